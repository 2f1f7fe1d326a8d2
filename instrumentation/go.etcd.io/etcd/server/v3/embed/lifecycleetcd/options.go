package lifecycleetcd

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
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

// newConfig applies opts to the defaults. Invalid options are collected,
// for Observe to return (engine.Config.Err).
func newConfig(opts []Option) engine.Config {
	c := engine.NewConfig("lifecycleetcd")
	c.LeaderlessTimeout, c.PollInterval = DefaultLeaderlessTimeout, DefaultPollInterval
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
	apply(engine.Config) engine.Config
}

type optionFunc func(engine.Config) engine.Config

func (f optionFunc) apply(c engine.Config) engine.Config { return f(c) }

// WithLeaderlessTimeout sets how long a member that has been Ready may go
// without a leader (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. d must be > 0; the default is DefaultLeaderlessTimeout
// (10 s, ten of etcd's default election timeouts).
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(engine.LeaderlessTimeout(d))
}

// WithPollInterval sets how often the Observer reads the server's
// membership (voters, learners, this member's place) when no notification
// prompts it to. The server announces leader changes, readiness and its
// stop, but not membership changes: those are seen at a poll. d must be
// > 0; the default is DefaultPollInterval (1 s).
func WithPollInterval(d time.Duration) Option {
	return optionFunc(engine.PollInterval(d))
}

// WithMeterProvider sends the Raft instruments (see the package
// documentation) to p instead of the tracker's MeterProvider. Nil means
// the default, the tracker's.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(engine.MeterProvider(p))
}

// WithAttributes adds attributes to every point of the Raft instruments,
// after the tracker's own (Tracker.Attributes): to tell apart the etcd
// servers of one process, for example.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(engine.Attributes(attrs))
}
