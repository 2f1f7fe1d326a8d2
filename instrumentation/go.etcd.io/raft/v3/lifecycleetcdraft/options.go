package lifecycleetcdraft

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
	// DefaultPollInterval is how often the Observer reads the node's
	// Status when nothing prompts it to.
	DefaultPollInterval = time.Second
)

// newConfig applies opts to the defaults. Invalid options are collected,
// for Observe to return (engine.Config.Err).
func newConfig(opts []Option) engine.Config {
	c := engine.NewConfig("lifecycleetcdraft")
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

// WithLeaderlessTimeout sets how long a node that has known a leader may
// go without one (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. d must be > 0; the default is DefaultLeaderlessTimeout (10 s).
//
// Choose it well above the cluster's election time (a few election
// timeouts, ElectionTick times the tick interval), or every failover shows
// as Failed.
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(engine.LeaderlessTimeout(d))
}

// WithPollInterval sets how often the Observer reads the node's Status
// (its leader, its role, its configuration) when nothing prompts it to.
// Without Observer.Ready in the service's Ready loop, polls are how every
// change is seen; with it, they catch what no Ready announced. d must be
// > 0; the default is DefaultPollInterval (1 s).
func WithPollInterval(d time.Duration) Option {
	return optionFunc(engine.PollInterval(d))
}

// WithJoinBackoff sets Join's schedule: the wait before each attempt, so
// len(delays) is the number of attempts (attempt i waits delays[i]). At
// least one delay is needed and none may be negative. The default is
// otellifecycle.DefaultJoinBackoff (8 attempts over 31.75 s).
func WithJoinBackoff(delays ...time.Duration) Option {
	return optionFunc(engine.JoinBackoff(delays))
}

// WithMeterProvider sends the Raft instruments (see the package
// documentation) to p instead of the tracker's MeterProvider. Nil means
// the default, the tracker's.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(engine.MeterProvider(p))
}

// WithAttributes adds attributes to every point of the Raft instruments,
// after the tracker's own (Tracker.Attributes): a Raft group id, to tell
// apart the groups of one process.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(engine.Attributes(attrs))
}
