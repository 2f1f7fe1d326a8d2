package lifecycleraft

import (
	"slices"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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

// DefaultJoinBackoff returns the origin's join schedule, in a new slice:
// the delay before each of the 8 attempts of Join (0, 0.25, 0.5, 1, 2, 4, 8
// and 16 s; 31.75 s in all).
func DefaultJoinBackoff() []time.Duration {
	return []time.Duration{
		0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
	}
}

// config is what the options build; see newConfig for its defaults.
type config struct {
	leaderless    time.Duration
	poll          time.Duration
	joinBackoff   []time.Duration
	meterProvider metric.MeterProvider
	attrs         []attribute.KeyValue
}

func newConfig(opts []Option) config {
	c := config{
		leaderless:  DefaultLeaderlessTimeout,
		poll:        DefaultPollInterval,
		joinBackoff: DefaultJoinBackoff(),
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	return c
}

// Option configures Observe. Options are applied in order; for options
// that set one value, the last wins. The interface is sealed: only this
// package's With* functions make Options.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithLeaderlessTimeout sets how long a node that has known a leader may
// go without one (an election, a partition, a lost quorum) before it is
// Failed. Shorter gaps leave the phase as it was: a leader election is not
// an outage. Default DefaultLeaderlessTimeout (10 s); d ≤ 0 is ignored.
//
// Choose it well above Raft's election time (a few ElectionTimeouts), or
// every failover shows as Failed.
func WithLeaderlessTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.leaderless = d
		}
		return c
	})
}

// WithPollInterval sets how often the Observer re-reads Raft's state and
// latest configuration (GetConfiguration, one round trip through Raft's main
// loop) when no observation arrives. Followers learn configuration changes
// only this way, because Raft sends PeerObservations on the leader only;
// it is also what catches up after observations were dropped. Default
// DefaultPollInterval (1 s); d ≤ 0 is ignored.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.poll = d
		}
		return c
	})
}

// WithJoinBackoff sets Join's schedule: the delay before each attempt,
// so len(delays) is the number of attempts (attempt i waits delays[i]).
// The default is DefaultJoinBackoff, the origin's. No delays is ignored;
// a negative delay is taken as 0.
func WithJoinBackoff(delays ...time.Duration) Option {
	delays = slices.Clone(delays)
	for i, d := range delays {
		delays[i] = max(d, 0)
	}
	return optionFunc(func(c config) config {
		if len(delays) > 0 {
			c.joinBackoff = delays
		}
		return c
	})
}

// WithMeterProvider sets where the Raft instruments go (see the package
// documentation). Nil is ignored; the default is otel.GetMeterProvider().
// It does not touch the Tracker, which has its own.
func WithMeterProvider(p metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.meterProvider = p
		}
		return c
	})
}

// WithAttributes adds attributes to every point of the Raft instruments,
// to tell apart the Raft groups of one process (a shard id). The tracker's
// own otellifecycle.WithAttributes are not copied: give both what both need.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	attrs = slices.Clone(attrs)
	return optionFunc(func(c config) config {
		c.attrs = append(slices.Clone(c.attrs), attrs...)
		return c
	})
}
