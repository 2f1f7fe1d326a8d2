package otellifecycle

import "time"

// DefaultJoinBackoff returns the join schedule every engine module of this
// project uses unless told otherwise, in a new slice: the wait before each
// of 8 attempts (0, 0.25, 0.5, 1, 2, 4, 8 and 16 s; 31.75 s in all).
// Attempt i is reported as Joining{Attempt: i}. It is the schedule of the
// Rust tracker this package descends from, so a node that took it up keeps
// its timing.
func DefaultJoinBackoff() []time.Duration {
	return []time.Duration{
		0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
	}
}
