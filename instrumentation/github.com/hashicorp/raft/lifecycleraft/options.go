package lifecycleraft

import (
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Defaults of the options.
const (
	// DefaultLeaderlessTimeout is how long a node that has known a leader
	// may go without one before it is Failed.
	DefaultLeaderlessTimeout = 10 * time.Second
	// DefaultPollInterval is how often the Observer re-reads Raft's state
	// and configuration between observations.
	DefaultPollInterval = time.Second
)

// config is what the options build; see newConfig for its defaults.
type config struct {
	leaderless    time.Duration
	poll          time.Duration
	joinBackoff   []time.Duration
	meterProvider metric.MeterProvider // nil: the tracker's
	attrs         []attribute.KeyValue // added to the tracker's
	errs          []error              // one per invalid option, naming it
}

// newConfig applies opts to the defaults. Invalid options are collected in
// errs, for Observe to return.
func newConfig(opts []Option) config {
	c := config{
		leaderless:  DefaultLeaderlessTimeout,
		poll:        DefaultPollInterval,
		joinBackoff: otellifecycle.DefaultJoinBackoff(),
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures Observe. Options are applied in order; for options
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
	c.errs = append(slices.Clip(c.errs), fmt.Errorf("lifecycleraft: "+format, args...))
	return c
}

// WithLeaderlessTimeout sets how long a node that has known a leader may
// go without one (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. Default DefaultLeaderlessTimeout (10 s); d must be > 0.
//
// Choose it well above Raft's election time (a few ElectionTimeouts), or
// every failover shows as Failed.
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d <= 0 {
			return c.invalid("WithLeaderlessTimeout: must be > 0, got %v", d)
		}
		c.leaderless = d
		return c
	})
}

// WithPollInterval sets how often the Observer re-reads Raft's state and
// latest configuration when no observation arrives. Followers learn
// configuration changes only this way, because Raft sends PeerObservations
// on the leader only; it is also what catches up after observations were
// dropped. The reads take Raft's own short locks, not a trip through its
// main loop. Default DefaultPollInterval (1 s); d must be > 0.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d <= 0 {
			return c.invalid("WithPollInterval: must be > 0, got %v", d)
		}
		c.poll = d
		return c
	})
}

// WithJoinBackoff sets Join's schedule: the delay before each attempt,
// so len(delays) is the number of attempts (attempt i waits delays[i]).
// At least one delay is needed, and none may be negative. The default is
// otellifecycle.DefaultJoinBackoff.
func WithJoinBackoff(delays ...time.Duration) Option {
	delays = slices.Clone(delays)
	return optionFunc(func(c config) config {
		if len(delays) == 0 {
			return c.invalid("WithJoinBackoff: at least one delay is needed")
		}
		for i, d := range delays {
			if d < 0 {
				return c.invalid("WithJoinBackoff: delay %d must be ≥ 0, got %v", i, d)
			}
		}
		c.joinBackoff = delays
		return c
	})
}

// WithMeterProvider sets where the Raft instruments go (see the package
// documentation). The default, and what nil means, is the tracker's own
// provider (otellifecycle.Tracker.MeterProvider), so the Raft series go
// wherever the tracker's do.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = p
		return c
	})
}

// WithAttributes adds attributes to every point of the Raft instruments,
// after the tracker's own (otellifecycle.Tracker.Attributes, such as a
// node id), which they always carry: to tell apart the Raft groups of one
// tracker's process, for example (a shard id). Each call adds to the
// previous ones.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	attrs = slices.Clone(attrs)
	return optionFunc(func(c config) config {
		c.attrs = append(slices.Clone(c.attrs), attrs...)
		return c
	})
}
