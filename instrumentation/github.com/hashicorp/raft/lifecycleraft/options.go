package lifecycleraft

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
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

// newConfig applies opts to the defaults. Invalid options are collected,
// for Observe to return (engine.Config.Err).
func newConfig(opts []Option) engine.Config {
	c := engine.NewConfig("lifecycleraft")
	c.LeaderlessTimeout, c.PollInterval = DefaultLeaderlessTimeout, DefaultPollInterval
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
	apply(engine.Config) engine.Config
}

type optionFunc func(engine.Config) engine.Config

func (f optionFunc) apply(c engine.Config) engine.Config { return f(c) }

// WithLeaderlessTimeout sets how long a node that has known a leader may
// go without one (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. Default DefaultLeaderlessTimeout (10 s); d must be > 0.
//
// Choose it well above Raft's election time (a few ElectionTimeouts), or
// every failover shows as Failed.
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(engine.LeaderlessTimeout(d))
}

// WithPollInterval sets how often the Observer re-reads Raft's state and
// latest configuration when no observation arrives. Followers learn
// configuration changes only this way, because Raft sends PeerObservations
// on the leader only; it is also what catches up after observations were
// dropped. The reads take Raft's own short locks, not a trip through its
// main loop. Default DefaultPollInterval (1 s); d must be > 0.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(engine.PollInterval(d))
}

// WithJoinBackoff sets Join's schedule: the delay before each attempt,
// so len(delays) is the number of attempts (attempt i waits delays[i]).
// At least one delay is needed, and none may be negative. The default is
// otellifecycle.DefaultJoinBackoff.
func WithJoinBackoff(delays ...time.Duration) Option {
	return optionFunc(engine.JoinBackoff(delays))
}

// WithMeterProvider sets where the Raft instruments go (see the package
// documentation). The default, and what nil means, is the tracker's own
// provider (otellifecycle.Tracker.MeterProvider), so the Raft series go
// wherever the tracker's do.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(engine.MeterProvider(p))
}

// WithAttributes adds attributes to every point of the Raft instruments,
// after the tracker's own (otellifecycle.Tracker.Attributes, such as a
// node id), which they always carry: to tell apart the Raft groups of one
// tracker's process, for example (a shard id). Each call adds to the
// previous ones.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(engine.Attributes(attrs))
}
