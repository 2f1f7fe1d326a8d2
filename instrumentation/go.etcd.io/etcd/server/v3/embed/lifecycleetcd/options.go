package lifecycleetcd

import (
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Defaults of the options.
const (
	// DefaultLeaderlessTimeout is how long a member that has been Ready
	// may go without a leader before it is Failed.
	DefaultLeaderlessTimeout = 10 * time.Second
	// DefaultPollInterval is how often the Observer reads the server's
	// membership when no notification prompts it to.
	DefaultPollInterval = time.Second
)

// config is what the options build; see newConfig for its defaults.
type config struct {
	leaderless    time.Duration
	poll          time.Duration
	meterProvider metric.MeterProvider // nil: the tracker's
	attrs         []attribute.KeyValue // added to the tracker's
	errs          []error              // one per invalid option, naming it
}

// newConfig applies opts to the defaults. Invalid options are collected in
// errs, for Observe to return.
func newConfig(opts []Option) config {
	c := config{leaderless: DefaultLeaderlessTimeout, poll: DefaultPollInterval}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures Observe. Options are applied in order; of the options
// that set one value, the last wins. An invalid value makes Observe return
// an error that names the option; none is ignored or corrected. The
// interface is sealed: only this package's With* functions make Options.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// invalid records the error of an invalid option.
func (c config) invalid(format string, args ...any) config {
	c.errs = append(slices.Clip(c.errs), fmt.Errorf("lifecycleetcd: "+format, args...))
	return c
}

// WithLeaderlessTimeout sets how long a member that has been Ready may go
// without a leader (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. d must be > 0; the default is DefaultLeaderlessTimeout
// (10 s, ten of etcd's default election timeouts).
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d <= 0 {
			return c.invalid("WithLeaderlessTimeout: must be > 0, got %v", d)
		}
		c.leaderless = d
		return c
	})
}

// WithPollInterval sets how often the Observer reads the server's
// membership (voters, learners, this member's place) when no notification
// prompts it to. The server announces leader changes, readiness and its
// stop, but not membership changes: those are seen at a poll. d must be
// > 0; the default is DefaultPollInterval (1 s).
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d <= 0 {
			return c.invalid("WithPollInterval: must be > 0, got %v", d)
		}
		c.poll = d
		return c
	})
}

// WithMeterProvider sends the Raft instruments (see the package
// documentation) to p instead of the tracker's MeterProvider. Nil means
// the default, the tracker's.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = p
		return c
	})
}

// WithAttributes adds attributes to every point of the Raft instruments,
// after the tracker's own (Tracker.Attributes): to tell apart the etcd
// servers of one process, for example.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	attrs = slices.Clone(attrs)
	return optionFunc(func(c config) config {
		c.attrs = append(slices.Clone(c.attrs), attrs...)
		return c
	})
}
