package enginetest

import (
	"context"
	"sync"
	"time"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Stall stalls a tracker on its way to Ready, as readers that never
// return would: its transition policy holds the move to Ready, and a sink
// holds every transition, until Release. Each engine module's stall test
// gives a node's tracker Options (and a subscriber that never reads) and
// shows that the engine goes on regardless (instrumentation/README.md,
// "Never blocking the engine").
type Stall struct {
	release chan struct{}
	once    sync.Once

	mu        sync.Mutex
	blockedAt time.Time // when the policy first held a move to Ready
}

// NewStall returns a Stall that holds until Release.
func NewStall() *Stall { return &Stall{release: make(chan struct{})} }

// Options are a tracker's options that stall it.
func (s *Stall) Options() []otellifecycle.Option {
	return []otellifecycle.Option{
		otellifecycle.WithTransitionPolicy(func(_, to otellifecycle.State) error {
			if to.Phase == otellifecycle.Ready {
				s.mu.Lock()
				if s.blockedAt.IsZero() {
					s.blockedAt = time.Now()
				}
				s.mu.Unlock()
				<-s.release
			}
			return nil
		}),
		otellifecycle.WithSinks(otellifecycle.SinkFunc(func(ctx context.Context, _ otellifecycle.Transition) error {
			select {
			case <-s.release:
			case <-ctx.Done():
			}
			return nil
		})),
	}
}

// Blocked says whether the policy has held a move to Ready: the stall is
// real.
func (s *Stall) Blocked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.blockedAt.IsZero()
}

// StalledFor is how long since the policy first held a move to Ready, to
// the millisecond.
func (s *Stall) StalledFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.blockedAt).Round(time.Millisecond)
}

// Release lets the tracker go on. It is idempotent: a test defers it
// before the cleanups that close the trackers, and calls it once it has
// shown what it shows.
func (s *Stall) Release() { s.once.Do(func() { close(s.release) }) }
