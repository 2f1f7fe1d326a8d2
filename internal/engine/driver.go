package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Failure reasons every Raft engine module gives alike. They are part of
// the contract (alerts match them), like the tracker's Detail texts.
const (
	// ReasonRemoved is Failed's reason for a node removed from its
	// cluster's configuration, not after Leave.
	ReasonRemoved = "removed from the configuration"
	// ReasonService is Fail's reason when the service gives none.
	ReasonService = "failed by the service"
)

// LeaderlessReason is Failed's reason for a node without a leader for
// timeout or more, last the last leader it knew as its engine writes
// server IDs. It says "more than" the timeout rather than the exact time,
// so that the reason, and with it the state, is the same at every
// evaluation: one transition to Failed, not one per poll.
func LeaderlessReason(timeout time.Duration, last string) string {
	return fmt.Sprintf("no leader for more than %v (last leader %s)", timeout, last)
}

// Intents is what the service asked of an Observer through its helpers:
// the half of the facts that every Raft engine module keeps alike, beside
// the half its engine reports (the module's facts).
type Intents struct {
	Joining    bool   // Join is running, or succeeded and the node is not yet a member (the module's refresh ends it)
	Attempt    uint32 // Join's current or last attempt
	JoinFailed string // Join gave up: the reason
	Leaving    bool   // Leave was called
	Stopping   bool   // Shutdown was called
	Failed     string // Fail was called, and Recover not since: the reason
}

// Mapping is a module's mapping from facts to a phase, as two pure
// functions that the Driver calls under its mutex.
type Mapping[F any] struct {
	// Derive returns the phase f and in mean at now, or hold = true when
	// they mean "keep the phase as it is" (a leader election shorter than
	// the leaderless timeout, in the etcd modules).
	Derive func(f *F, in *Intents, now time.Time, leaderless time.Duration) (s otellifecycle.State, hold bool)
	// Deadline is when Derive will turn f into Failed for want of a
	// leader if nothing changes, or the zero time when it will not.
	Deadline func(f *F, leaderless time.Duration) time.Time
}

// Driver moves one tracker to the phase that an engine's facts F and the
// service's Intents mean. It is the one place an Observer calls the
// tracker from, and the one place its facts are kept; it runs the
// Observer's goroutines and stops them on Close. Its methods are safe for
// concurrent use.
type Driver[F any] struct {
	t         *otellifecycle.Tracker
	cfg       Config
	m         Mapping[F]
	errClosed error

	done      chan struct{} // closed by Close: the goroutines end
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	// gone ends with the first of Close, Stop and Leave (endJoins): from
	// then on no Join asks the cluster anything.
	gone     context.Context
	endJoins context.CancelFunc

	// mu guards f, in, closed and joinRunning. It is held only to copy or
	// update them, never across a call into the engine or the tracker, so
	// a metric collection never waits on either.
	mu          sync.Mutex
	f           F
	in          Intents
	closed      bool
	joinRunning bool

	// applyMu serializes derive-and-Set, so that applied is the state this
	// Driver last set and two evaluations never race each other's Set.
	applyMu sync.Mutex
	applied otellifecycle.State
}

// NewDriver returns the Driver of tracker t, with cfg's leaderless timeout
// and join schedule, m's mapping, and errClosed (the module's ErrClosed)
// for what is asked of it once the node is going away. It takes t's
// current state as the one it last set, and moves nothing until the first
// evaluation.
func NewDriver[F any](t *otellifecycle.Tracker, cfg Config, errClosed error, m Mapping[F]) *Driver[F] {
	d := &Driver[F]{t: t, cfg: cfg, m: m, errClosed: errClosed, done: make(chan struct{}), applied: t.Current()}
	d.gone, d.endJoins = context.WithCancel(context.Background())
	return d
}

// Facts returns a copy of the engine's facts, for a metric collection.
func (d *Driver[F]) Facts() F {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f
}

// Change changes the facts and the intents under the mutex, without an
// evaluation: a module's refresh, which its caller follows with Evaluate.
func (d *Driver[F]) Change(change func(f *F, in *Intents)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	change(&d.f, &d.in)
}

// Update changes the facts and the intents under the mutex, then
// evaluates. ctx is the transition's context.
func (d *Driver[F]) Update(ctx context.Context, change func(f *F, in *Intents)) {
	d.Change(change)
	d.Evaluate(ctx)
}

// Evaluate derives the phase from the facts and moves the tracker there
// if it is not where this Driver last put it; after Close it does
// nothing. ctx is the transition's context (the caller's, for the
// helpers).
func (d *Driver[F]) Evaluate(ctx context.Context) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	s, hold := d.m.Derive(&d.f, &d.in, time.Now(), d.cfg.LeaderlessTimeout)
	d.mu.Unlock()
	if hold || s == d.applied {
		return
	}
	// The tracker reports its own errors (a policy's rejection, a closed
	// tracker) through otel.Handle; whatever it said, this is the state
	// asked for, and asking again at every poll would only repeat them.
	_ = d.t.Set(ctx, s)
	d.applied = s
}

// Deadline is the mapping's leaderless deadline for the facts as they are.
func (d *Driver[F]) Deadline() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Deadline(&d.f, d.cfg.LeaderlessTimeout)
}

// Fail is every module's Fail: Failed{reason} (ReasonService when reason
// is empty, normalized as the tracker bounds reasons) until Recover.
func (d *Driver[F]) Fail(ctx context.Context, reason string) {
	if reason == "" {
		reason = ReasonService
	}
	reason = otellifecycle.NormalizeReason(reason)
	d.Update(ctx, func(_ *F, in *Intents) { in.Failed = reason })
}

// Recover is every module's Recover: it ends what Fail began.
func (d *Driver[F]) Recover(ctx context.Context) {
	d.Update(ctx, func(_ *F, in *Intents) { in.Failed = "" })
}

// Leave is the first step of every module's Leave: after Stop it returns
// errClosed; otherwise it ends a running Join and records the intent
// (Draining, for good), and the module goes on with what it asks of the
// engine.
func (d *Driver[F]) Leave(ctx context.Context) error {
	d.mu.Lock()
	stopping := d.in.Stopping
	d.mu.Unlock()
	if stopping {
		return d.errClosed
	}
	d.endJoins()
	d.Update(ctx, func(_ *F, in *Intents) { in.Leaving = true })
	return nil
}

// Stop is the first step of every module's Shutdown: it ends a running
// Join and records the intent (Stopping), before the module stops the
// engine.
func (d *Driver[F]) Stop() {
	d.endJoins()
	d.Update(context.Background(), func(_ *F, in *Intents) { in.Stopping = true })
}

// Go runs f on a goroutine of the Observer's, which Close waits for: f
// returns once Done is closed.
func (d *Driver[F]) Go(f func()) {
	d.wg.Go(f)
}

// Done is closed by Close.
func (d *Driver[F]) Done() <-chan struct{} { return d.done }

// Close is every module's Close: it ends a running Join, stops the
// Driver, waits for the goroutines of Go and unregisters reg, the
// module's instruments. Once it returns, the tracker is moved no more: an
// evaluation in progress finishes its Set before Close returns, and none
// starts after it. Close is idempotent; every call returns the first
// one's result, an error only when reg could not be unregistered.
func (d *Driver[F]) Close(reg metric.Registration) error {
	d.closeOnce.Do(func() {
		d.endJoins()
		d.applyMu.Lock()
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		d.applyMu.Unlock()
		close(d.done)
		d.wg.Wait()
		if err := reg.Unregister(); err != nil {
			d.closeErr = fmt.Errorf("%s: Close: %w", d.cfg.Package, err)
		}
	})
	return d.closeErr
}

// Join is every Raft module's Join: it calls join, the service's request
// to add this node, until it returns nil, on cfg's JoinBackoff, showing
// attempt i as Joining{i} from its start (after its wait) until the next
// one starts. joined says, under the mutex, whether the facts show the
// node a member already, in which case Join returns nil at once. Join
// returns:
//
//   - nil when join returned nil (the module's refresh ends the Joining
//     intent once the node is a member);
//   - an error wrapping ctx's when ctx ends first, the intent dropped;
//   - errClosed after Close, Stop or Leave, or when one of them comes
//     while it runs (join's ctx is then cancelled, and join called no
//     more);
//   - an error at once while another Join runs;
//   - the last attempt's error, wrapped, when every attempt failed, the
//     reason of the intent JoinFailed.
func (d *Driver[F]) Join(ctx context.Context, join func(ctx context.Context) error, joined func(f *F) bool) error {
	d.mu.Lock()
	switch {
	case d.gone.Err() != nil:
		d.mu.Unlock()
		return d.errClosed
	case d.joinRunning:
		d.mu.Unlock()
		return errors.New(d.cfg.Package + ": Join while another Join is running")
	case joined(&d.f):
		d.mu.Unlock()
		return nil
	}
	d.joinRunning = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.joinRunning = false
		d.mu.Unlock()
	}()

	// jctx ends with ctx, or when the node goes away.
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.gone, cancel)()

	delays := d.cfg.JoinBackoff
	var err error
	for attempt, delay := range delays {
		if delay > 0 {
			wait := time.NewTimer(delay)
			select {
			case <-jctx.Done():
				wait.Stop()
				return d.joinEnded(ctx)
			case <-wait.C:
			}
		}
		if jctx.Err() != nil {
			return d.joinEnded(ctx)
		}
		d.Update(ctx, func(_ *F, in *Intents) {
			in.Joining, in.Attempt, in.JoinFailed = true, uint32(attempt), ""
		})
		err = join(jctx)
		if d.gone.Err() != nil || (err != nil && jctx.Err() != nil) {
			return d.joinEnded(ctx)
		}
		if err == nil {
			// The node is being added: it stays Joining until the module's
			// refresh sees it a member.
			return nil
		}
	}
	err = fmt.Errorf("join failed after %d attempts: %w", len(delays), err)
	d.Update(ctx, func(_ *F, in *Intents) { in.Joining, in.JoinFailed = false, err.Error() })
	return fmt.Errorf("%s: %w", d.cfg.Package, err)
}

// joinEnded drops the Joining intent of a Join that ends before its time
// and returns its error: errClosed when the node is going away, ctx's
// otherwise.
func (d *Driver[F]) joinEnded(ctx context.Context) error {
	d.Update(ctx, func(_ *F, in *Intents) { in.Joining = false })
	if d.gone.Err() != nil {
		return d.errClosed
	}
	return fmt.Errorf("%s: Join: %w", d.cfg.Package, ctx.Err())
}
