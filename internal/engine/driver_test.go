package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

var errClosed = errors.New("lifecyclex: closed")

// facts stand for an engine's: whether the node is a member with a
// leader, and a phase to hold.
type facts struct {
	member bool
	hold   bool
}

// derive is a small mapping of the Raft modules' shape: the service's
// intents first, then the engine's facts.
func derive(f *facts, in *engine.Intents, _ time.Time, _ time.Duration) (otellifecycle.State, bool) {
	switch {
	case in.Stopping:
		return otellifecycle.StoppingState(), false
	case in.Leaving:
		return otellifecycle.DrainingState(), false
	case in.Failed != "":
		return otellifecycle.FailedState(in.Failed), false
	case f.member:
		return otellifecycle.ReadyState(3), false
	case in.Joining:
		return otellifecycle.JoiningState(in.Attempt), false
	case in.JoinFailed != "":
		return otellifecycle.FailedState(in.JoinFailed), false
	case f.hold:
		return otellifecycle.State{}, true
	}
	return otellifecycle.StartingState(), false
}

func joined(f *facts) bool { return f.member }

// newDriver is a Driver of a new tracker, with delays as its join
// schedule, closed when the test ends.
func newDriver(t *testing.T, delays ...time.Duration) (*engine.Driver[facts], *otellifecycle.Tracker) {
	t.Helper()
	tracker, err := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.NewConfig("lifecyclex")
	cfg.LeaderlessTimeout = time.Second
	if len(delays) > 0 {
		cfg = engine.JoinBackoff(delays)(cfg)
	}
	d := engine.NewDriver(tracker, cfg, errClosed, engine.Mapping[facts]{
		Derive:   derive,
		Deadline: func(*facts, time.Duration) time.Time { return time.Time{} },
	})
	t.Cleanup(func() {
		_ = d.Close(noopRegistration{})
		_ = tracker.Close()
	})
	return d, tracker
}

type noopRegistration struct{ metric.Registration }

func (noopRegistration) Unregister() error { return nil }

// The tracker follows the facts at each evaluation, and only then;
// "hold" keeps it where it is; after Close nothing moves it.
func TestEvaluateMovesTheTrackerToWhatTheFactsMean(t *testing.T) {
	d, tracker := newDriver(t)
	ctx := t.Context()
	d.Change(func(f *facts, _ *engine.Intents) { f.member = true })
	if got := tracker.Current(); got != otellifecycle.StartingState() {
		t.Fatalf("Change moved the tracker to %v", got)
	}
	d.Evaluate(ctx)
	if got := tracker.Current(); got != otellifecycle.ReadyState(3) {
		t.Fatalf("after Evaluate: %v, want ready (3 nodes)", got)
	}
	d.Update(ctx, func(f *facts, _ *engine.Intents) { f.member, f.hold = false, true })
	if got := tracker.Current(); got != otellifecycle.ReadyState(3) {
		t.Fatalf("a held phase moved to %v", got)
	}
	if err := d.Close(noopRegistration{}); err != nil {
		t.Fatal(err)
	}
	d.Update(ctx, func(f *facts, _ *engine.Intents) { f.hold = false })
	if got := tracker.Current(); got != otellifecycle.ReadyState(3) {
		t.Fatalf("after Close the tracker moved to %v", got)
	}
}

// Fail holds Failed{reason} until Recover; an empty reason is the
// service's; Leave after Stop is errClosed.
func TestFailRecoverLeaveStop(t *testing.T) {
	d, tracker := newDriver(t)
	ctx := t.Context()
	d.Fail(ctx, "")
	if got := tracker.Current(); got != otellifecycle.FailedState(engine.ReasonService) {
		t.Errorf("Fail(\"\"): %v", got)
	}
	d.Fail(ctx, "disk\nfull")
	if got := tracker.Current(); got != otellifecycle.FailedState(otellifecycle.NormalizeReason("disk\nfull")) {
		t.Errorf("Fail: %v, want the reason normalized", got)
	}
	d.Recover(ctx)
	if got := tracker.Current(); got != otellifecycle.StartingState() {
		t.Errorf("Recover: %v", got)
	}
	if err := d.Leave(ctx); err != nil || tracker.Current() != otellifecycle.DrainingState() {
		t.Errorf("Leave: %v, %v", err, tracker.Current())
	}
	d.Stop()
	if err := d.Leave(ctx); !errors.Is(err, errClosed) || tracker.Current() != otellifecycle.StoppingState() {
		t.Errorf("Leave after Stop: %v, %v; want errClosed, stopping", err, tracker.Current())
	}
}

// Join shows each attempt as Joining{i}, waits its delay first, and gives
// up after the last with Failed{"join failed after N attempts: …"} and
// the last error, wrapped, naming the module.
func TestJoinRetriesOnItsScheduleThenFails(t *testing.T) {
	d, tracker := newDriver(t, 0, 20*time.Millisecond, 20*time.Millisecond)
	refused := errors.New("refused")
	var attempts []otellifecycle.State
	start := time.Now()
	err := d.Join(t.Context(), func(context.Context) error {
		attempts = append(attempts, tracker.Current())
		return refused
	}, joined)
	if took := time.Since(start); took < 40*time.Millisecond {
		t.Errorf("three attempts took %v, less than their delays", took)
	}
	want := []otellifecycle.State{otellifecycle.JoiningState(0), otellifecycle.JoiningState(1), otellifecycle.JoiningState(2)}
	if len(attempts) != 3 || attempts[0] != want[0] || attempts[1] != want[1] || attempts[2] != want[2] {
		t.Errorf("attempts in %v, want %v", attempts, want)
	}
	if !errors.Is(err, refused) || err.Error() != "lifecyclex: join failed after 3 attempts: refused" {
		t.Errorf("Join: %v", err)
	}
	if got := tracker.Current(); got != otellifecycle.FailedState("join failed after 3 attempts: refused") {
		t.Errorf("after Join: %v", got)
	}
}

// A Join that succeeds leaves the node Joining until the facts say it is
// a member; a node that is one already is not asked again.
func TestJoinSucceedsAndIsNotRepeatedOnceJoined(t *testing.T) {
	d, tracker := newDriver(t, 0)
	if err := d.Join(t.Context(), func(context.Context) error { return nil }, joined); err != nil {
		t.Fatal(err)
	}
	if got := tracker.Current(); got != otellifecycle.JoiningState(0) {
		t.Errorf("after a successful join: %v, want joining (attempt 0)", got)
	}
	d.Update(t.Context(), func(f *facts, in *engine.Intents) { f.member, in.Joining = true, false })
	called := false
	if err := d.Join(t.Context(), func(context.Context) error { called = true; return nil }, joined); err != nil || called {
		t.Errorf("Join of a member: %v, join called: %v", err, called)
	}
}

// A cancelled Join returns ctx's error and drops the intent; a Close
// during a Join ends it with errClosed, and after it Join asks nothing;
// one Join runs at a time.
func TestJoinEndsWithItsContextOrTheDriver(t *testing.T) {
	d, tracker := newDriver(t, 0, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	first := make(chan struct{})
	go func() {
		done <- d.Join(ctx, func(context.Context) error {
			close(first)
			return errors.New("refused")
		}, joined)
	}()
	<-first
	err := d.Join(t.Context(), func(context.Context) error { return nil }, joined)
	if err == nil || !strings.Contains(err.Error(), "another Join is running") {
		t.Errorf("a second Join: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "lifecyclex: Join: ") {
		t.Errorf("a cancelled Join: %v", err)
	}
	if got := tracker.Current(); got != otellifecycle.StartingState() {
		t.Errorf("after a cancelled Join: %v, want what it was before", got)
	}

	inJoin := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		done <- d.Join(t.Context(), func(jctx context.Context) error {
			close(inJoin)
			<-jctx.Done()
			return jctx.Err()
		}, joined)
	})
	<-inJoin
	if err := d.Close(noopRegistration{}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-done; !errors.Is(err, errClosed) {
		t.Errorf("Join ended by Close: %v, want errClosed", err)
	}
	called := false
	if err := d.Join(t.Context(), func(context.Context) error { called = true; return nil }, joined); !errors.Is(err, errClosed) || called {
		t.Errorf("Join after Close: %v, join called: %v", err, called)
	}
}

// Close waits for the goroutines of Go, is idempotent, and returns the
// first call's result: the registration's error, naming the module.
func TestCloseStopsTheGoroutinesAndUnregisters(t *testing.T) {
	d, _ := newDriver(t)
	ended := make(chan struct{})
	d.Go(func() {
		<-d.Done()
		close(ended)
	})
	err := d.Close(failingRegistration{})
	select {
	case <-ended:
	default:
		t.Error("Close returned before the goroutine ended")
	}
	if err == nil || err.Error() != "lifecyclex: Close: cannot unregister" {
		t.Errorf("Close: %v", err)
	}
	if again := d.Close(noopRegistration{}); again != err {
		t.Errorf("Close again: %v, want the first result %v", again, err)
	}
}

type failingRegistration struct{ metric.Registration }

func (failingRegistration) Unregister() error { return errors.New("cannot unregister") }

// The clock's deadline fires once armed ahead, never when armed with a
// time past or zero.
func TestClockArmsOnlyADeadlineAhead(t *testing.T) {
	c := engine.NewClock(time.Hour)
	defer c.Stop()
	c.Arm(time.Now().Add(-time.Second))
	c.Arm(time.Time{})
	select {
	case <-c.Deadline():
		t.Fatal("a deadline past or zero fired")
	case <-time.After(20 * time.Millisecond):
	}
	c.Arm(time.Now().Add(10 * time.Millisecond))
	testsupport.Eventually(t, "the deadline", time.Second, func() bool {
		select {
		case <-c.Deadline():
			return true
		default:
			return false
		}
	})
}

// LeaderlessReason says "more than" the timeout and names the last
// leader as given.
func TestLeaderlessReason(t *testing.T) {
	if got, want := engine.LeaderlessReason(10*time.Second, "n1"), "no leader for more than 10s (last leader n1)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
