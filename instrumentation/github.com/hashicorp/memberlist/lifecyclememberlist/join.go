package lifecyclememberlist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Join joins the cluster through seeds (addresses as memberlist's Join takes
// them) and moves the tracker as it goes. Attempt i (from 0) waits the
// backoff's i-th delay (WithJoinBackoff), then shows as Joining{i} while it
// calls memberlist's Join, and until the next attempt starts. The first
// attempt that contacts a seed makes the node Ready{alive} and Join returns
// nil. When every attempt fails, the node is
// Failed{"join failed after N attempts: <last error>"}, memberlist's last
// error naming each seed it could not join, and Join returns that error.
//
// When ctx ends first, Join returns an error wrapping ctx's and drops the
// Joining intent: nothing is marked Failed, and the node shows what it
// showed before Join (Starting before the first one), or Ready{alive} when
// other members have found it meanwhile. A cancelled join is the service
// changing its mind, not a fault. ctx cannot cut short a memberlist Join
// in progress.
//
// With no seeds the node starts a cluster of its own: it is Ready{alive} at
// once (alive is 1 unless others have joined it already). The first node of a
// cluster calls Join that way.
//
// Join may be called again, to retry after a failure for instance; it moves
// the node through Joining even from Ready. One Join runs at a time: another
// one returns an error at once. After Leave, Shutdown or Close, Join asks
// memberlist nothing and returns ErrClosed; one of them during a Join ends
// it at once (or, during a memberlist Join, when that returns) with
// ErrClosed, leaving the tracker to them.
func (o *Observer) Join(ctx context.Context, seeds []string) error {
	o.mu.Lock()
	switch {
	case o.closed.Load(), o.mode == draining, o.mode == stopping, o.gone.Err() != nil:
		o.mu.Unlock()
		return ErrClosed
	case o.mode == joining:
		o.mu.Unlock()
		return errors.New("lifecyclememberlist: Join while another Join is running")
	}
	before, beforeState := o.mode, o.t.Current()
	o.mode = joining
	o.mu.Unlock()

	if len(seeds) == 0 {
		return o.whileJoining(func() { o.enterReady(ctx) })
	}
	var last error
	for i, delay := range o.cfg.JoinBackoff {
		if delay > 0 {
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return o.abandon(ctx, before, beforeState)
			case <-o.gone.Done():
				timer.Stop()
				return ErrClosed
			}
		}
		if ctx.Err() != nil {
			return o.abandon(ctx, before, beforeState)
		}
		if err := o.whileJoining(func() { o.enter(ctx, joining, otellifecycle.JoiningState(uint32(i))) }); err != nil {
			return err
		}
		if _, err := o.ml.Join(seeds); err != nil {
			last = err
			continue
		}
		return o.whileJoining(func() { o.enterReady(ctx) })
	}
	n := len(o.cfg.JoinBackoff)
	reason := fmt.Sprintf("join failed after %d attempts: %s", n, oneLine(last))
	if err := o.whileJoining(func() { o.enter(ctx, joinFailed, otellifecycle.FailedState(reason)) }); err != nil {
		return err
	}
	return &joinError{msg: "lifecyclememberlist: " + reason, last: last}
}

// joinError is Join's error when every attempt failed: the reason on one
// line, wrapping memberlist's last error (whose own text spans lines).
type joinError struct {
	msg  string
	last error
}

func (e *joinError) Error() string { return e.msg }
func (e *joinError) Unwrap() error { return e.last }

// whileJoining runs move under mu if the Join that calls it is still the
// node's business: no Leave, Shutdown or Close came in between. Otherwise
// it returns ErrClosed.
func (o *Observer) whileJoining(move func()) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Load() || o.mode != joining || o.gone.Err() != nil {
		return ErrClosed
	}
	move()
	return nil
}

// enterReady makes the node a member, Ready{alive}. The caller holds mu.
func (o *Observer) enterReady(ctx context.Context) {
	n, _ := o.members()
	o.enter(ctx, member, otellifecycle.ReadyState(n))
}

// abandon ends a Join whose ctx ended, dropping its intent: the node is
// what it was before the Join (mode before, state beforeState), or a
// member when others have joined it meanwhile.
func (o *Observer) abandon(ctx context.Context, before mode, beforeState otellifecycle.State) error {
	err := o.whileJoining(func() {
		if n, _ := o.members(); n > 1 || before == member {
			o.enter(ctx, member, otellifecycle.ReadyState(n))
			return
		}
		o.enter(ctx, before, beforeState)
	})
	if err != nil {
		return err
	}
	return fmt.Errorf("lifecyclememberlist: Join: %w", ctx.Err())
}

// oneLine gives memberlist's Join error as one line: it is a go-multierror
// ("2 errors occurred:\n\t* …"), whose errors are joined with "; " here.
func oneLine(err error) string {
	var multi interface{ WrappedErrors() []error }
	if !errors.As(err, &multi) {
		return err.Error()
	}
	parts := make([]string, 0, len(multi.WrappedErrors()))
	for _, e := range multi.WrappedErrors() {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}
