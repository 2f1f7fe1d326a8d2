package lifecyclememberlist

import (
	"context"
	"fmt"
	"time"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// checkHealth reads memberlist's health score (GetHealthScore: 0 is
// healthy, o.worst the worst) and applies it: a member whose score has been
// at its worst for longer than the health timeout is Failed; a node so
// Failed whose score is better again is Ready. It runs on the Observer's
// goroutine, every healthPoll.
func (o *Observer) checkHealth(now time.Time) {
	score := o.ml.GetHealthScore()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Load() {
		return
	}
	ctx := context.Background()
	if score < o.worst {
		o.worstSince = time.Time{}
		if o.mode == unhealthy {
			o.enterReady(ctx)
		}
		return
	}
	if o.worstSince.IsZero() {
		o.worstSince = now
	}
	if o.mode == member && now.Sub(o.worstSince) > o.cfg.healthTimeout {
		reason := fmt.Sprintf("memberlist health score at its worst (%d) for longer than %v", score, o.cfg.healthTimeout)
		o.enter(ctx, unhealthy, otellifecycle.FailedState(reason))
	}
}
