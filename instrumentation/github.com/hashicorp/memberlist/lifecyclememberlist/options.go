package lifecyclememberlist

import (
	"time"

	"github.com/lifecyclekit/lifecycle/internal/engine"
)

// DefaultHealthTimeout is how long the health score must stay at its worst
// before the node is Failed, unless WithHealthTimeout says otherwise. It is the
// raft instrumentation's leaderless timeout: the time an operator waits before
// calling a node out of its cluster.
const DefaultHealthTimeout = 10 * time.Second

// config is what the options build; see newConfig for its defaults.
// engine.Config holds the join schedule and the invalid options' errors,
// kept and checked as every engine module of this repository keeps them;
// memberlist has no leaderless timeout, poll interval or instruments, so
// its other fields stay unset.
type config struct {
	engine.Config
	healthTimeout time.Duration
}

// Option configures an Observer (see Create). Options are applied in order,
// the last of those that set one value winning. An invalid value makes
// Create return an error that names the option; none is ignored or
// corrected. The interface is sealed: only this package's With* functions
// make Options.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithJoinBackoff sets the waits of Join's attempts: attempt i waits delays[i]
// before it tries, and Join makes len(delays) attempts before it fails. At
// least one delay is needed, and none may be negative. The default is
// otellifecycle.DefaultJoinBackoff: 0, 250 ms, 500 ms, 1 s, 2 s, 4 s, 8 s,
// 16 s (eight attempts over 31.75 s of waiting).
func WithJoinBackoff(delays ...time.Duration) Option {
	set := engine.JoinBackoff(delays)
	return optionFunc(func(c config) config {
		c.Config = set(c.Config)
		return c
	})
}

// WithHealthTimeout sets how long memberlist's health score
// (GetHealthScore) must stay at its worst before a Ready node is Failed.
// The score is read every quarter of d (every second at most). Zero turns
// the check off; a negative d is an error. The default is
// DefaultHealthTimeout.
func WithHealthTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d < 0 {
			c.Config = c.Invalid("WithHealthTimeout: must be ≥ 0, got %v", d)
			return c
		}
		c.healthTimeout = d
		return c
	})
}

func newConfig(opts []Option) config {
	c := config{Config: engine.NewConfig("lifecyclememberlist"), healthTimeout: DefaultHealthTimeout}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// healthPoll is how often the health score is read for a timeout of d.
func healthPoll(d time.Duration) time.Duration {
	return min(max(d/4, time.Millisecond), time.Second)
}
