package engine

import "time"

// Clock is the timers of an Observer's goroutine: the poll ticker, and
// the leaderless deadline, the moment the mapping turns a node without a
// leader into Failed, which no engine event announces.
type Clock struct {
	poll     *time.Ticker
	deadline *time.Timer
}

// NewClock starts the poll ticker, every poll, with the deadline unarmed.
// Stop it when the goroutine ends.
func NewClock(poll time.Duration) *Clock {
	deadline := time.NewTimer(time.Hour)
	deadline.Stop()
	return &Clock{poll: time.NewTicker(poll), deadline: deadline}
}

// Poll delivers the poll ticks.
func (c *Clock) Poll() <-chan time.Time { return c.poll.C }

// Deadline delivers the armed deadline.
func (c *Clock) Deadline() <-chan time.Time { return c.deadline.C }

// Arm sets the deadline to at (Driver.Deadline, after an evaluation), and
// only while at is ahead: once it has passed, that evaluation has already
// turned it into Failed. The zero time leaves the deadline unarmed.
func (c *Clock) Arm(at time.Time) {
	c.deadline.Stop()
	if wait := time.Until(at); !at.IsZero() && wait > 0 {
		c.deadline.Reset(wait)
	}
}

// Stop stops both timers.
func (c *Clock) Stop() {
	c.poll.Stop()
	c.deadline.Stop()
}
