package lifecycleetcdraft_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// backoff is a Join schedule for tests: three quick attempts.
var backoff = nodeOptions{observer: []lifecycleetcdraft.Option{
	lifecycleetcdraft.WithJoinBackoff(0, 10*time.Millisecond, 10*time.Millisecond),
}}

// Join gives up after its last attempt: it returns an error that says so
// and wraps the last attempt's, and the node is Failed with that reason.
func TestJoinGivesUpAfterItsLastAttempt(t *testing.T) {
	c := newCluster(t)
	n := c.fresh(1, backoff)
	refused := errors.New("refused")
	calls := 0
	err := n.obs.Join(t.Context(), func(context.Context) error { calls++; return refused })
	if !errors.Is(err, refused) || err.Error() != "lifecycleetcdraft: join failed after 3 attempts: refused" {
		t.Fatalf("Join: %v, want lifecycleetcdraft: join failed after 3 attempts: refused (wrapping it)", err)
	}
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
	n.WantStates(t, "starting", "joining:0", "joining:1", "joining:2", "failed:join failed after 3 attempts: refused")
}

// A cancelled Join stops at once, returns an error wrapping the context's,
// and marks nothing Failed: a cancelled join is the service changing its
// mind. A Join given a context that has ended calls nothing.
func TestJoinCancelledIsNotAFailure(t *testing.T) {
	c := newCluster(t)
	n := c.fresh(1, nodeOptions{observer: []lifecycleetcdraft.Option{
		lifecycleetcdraft.WithJoinBackoff(0, time.Minute),
	}})
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- n.obs.Join(ctx, func(context.Context) error { close(first); return errors.New("refused") })
	}()
	<-first
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Join: %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Join waits out its backoff after its context was cancelled")
	}
	if got := n.Tracker.Current(); got.Phase == otellifecycle.Failed {
		t.Errorf("after a cancelled Join: %v, want no Failed", got)
	}

	called := false
	err := n.obs.Join(ctx, func(context.Context) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Fatalf("Join with a cancelled context: %v (join called: %v), want context.Canceled without a call", err, called)
	}
}

// After Leave, Close or Shutdown, Join returns ErrClosed and asks nothing;
// a Join waiting out its backoff returns ErrClosed as soon as the
// Observer closes.
func TestJoinAfterLeaveOrCloseReturnsErrClosed(t *testing.T) {
	for _, end := range []string{"Leave", "Close", "Shutdown"} {
		t.Run(end, func(t *testing.T) {
			c := newCluster(t)
			n := c.fresh(1, nodeOptions{observer: []lifecycleetcdraft.Option{
				lifecycleetcdraft.WithJoinBackoff(0, time.Minute),
			}})
			var calls atomic.Int32
			first := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- n.obs.Join(t.Context(), func(context.Context) error {
					if calls.Add(1) == 1 {
						close(first)
					}
					return errors.New("refused")
				})
			}()
			<-first
			switch end {
			case "Leave":
				if err := n.obs.Leave(t.Context(), nil); err != nil {
					t.Fatal(err)
				}
			case "Close":
				if err := n.obs.Close(); err != nil {
					t.Fatal(err)
				}
			case "Shutdown":
				if err := n.obs.Shutdown(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if !errors.Is(err, lifecycleetcdraft.ErrClosed) {
					t.Fatalf("Join in its backoff: %v, want ErrClosed", err)
				}
			case <-time.After(waitFor):
				t.Fatalf("Join waits out its backoff after %s", end)
			}
			if err := n.obs.Join(t.Context(), func(context.Context) error { calls.Add(1); return nil }); !errors.Is(err, lifecycleetcdraft.ErrClosed) {
				t.Fatalf("Join after %s: %v, want ErrClosed", end, err)
			}
			if got := calls.Load(); got != 1 {
				t.Errorf("join called %d times, want 1 (before %s)", got, end)
			}
		})
	}
}

// One Join at a time: a second one, while the first waits out its
// backoff, returns an error at once and calls nothing.
func TestOneJoinAtATime(t *testing.T) {
	c := newCluster(t)
	n := c.fresh(1, nodeOptions{observer: []lifecycleetcdraft.Option{
		lifecycleetcdraft.WithJoinBackoff(0, time.Minute),
	}})
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- n.obs.Join(ctx, func(context.Context) error { close(first); return errors.New("refused") })
	}()
	<-first
	err := n.obs.Join(t.Context(), func(context.Context) error { t.Error("the second Join called join"); return nil })
	if err == nil || err.Error() != "lifecycleetcdraft: Join while another Join is running" {
		t.Errorf("a second Join: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the first Join: %v, want context.Canceled", err)
	}
}

// After Shutdown, Leave does nothing and returns ErrClosed.
func TestLeaveAfterShutdownReturnsErrClosed(t *testing.T) {
	c := newCluster(t)
	n := c.bootstrap(ids(1))[0]
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	n.shutdown(t, c.net)
	if err := n.obs.Leave(t.Context(), func(context.Context) error { t.Error("remove called"); return nil }); !errors.Is(err, lifecycleetcdraft.ErrClosed) {
		t.Errorf("Leave after Shutdown: %v, want ErrClosed", err)
	}
	n.WantStates(t, "starting", "bootstrapping", "ready:1", "stopping")
}

// Join of a voter that knows its leader returns nil at once and asks
// nothing.
func TestJoinOfAMemberReturnsAtOnce(t *testing.T) {
	c := newCluster(t)
	n := c.bootstrap(ids(1))[0]
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	if err := n.obs.Join(t.Context(), func(context.Context) error { t.Error("join called"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// Close and Shutdown may be called any number of times, concurrently,
// and with every other method.
func TestCloseAndShutdownAreIdempotentAndConcurrent(t *testing.T) {
	c := newCluster(t)
	n := c.bootstrap(ids(1))[0]
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			switch i % 4 {
			case 0:
				errs <- n.obs.Close()
			case 1:
				errs <- n.obs.Shutdown()
			case 2:
				n.obs.Fail(context.Background(), "x")
				errs <- nil
			default:
				_ = n.obs.Stats()
				errs <- n.obs.Join(context.Background(), func(context.Context) error { return nil })
			}
		}()
	}
	for range 8 {
		if err := <-errs; err != nil && !errors.Is(err, lifecycleetcdraft.ErrClosed) {
			t.Error(err)
		}
	}
	if err := n.obs.Shutdown(); err != nil {
		t.Error(err)
	}
	if n.rn.Status().ID != raft.None {
		t.Error("the node runs after Shutdown")
	}
}

// Every invalid option makes Observe fail with an error that names the
// package and the option; nothing is attached.
func TestInvalidOptionsNameTheOption(t *testing.T) {
	for _, tc := range []struct {
		opt  lifecycleetcdraft.Option
		want string
	}{
		{lifecycleetcdraft.WithLeaderlessTimeout(0), "lifecycleetcdraft: WithLeaderlessTimeout: must be > 0, got 0s"},
		{lifecycleetcdraft.WithPollInterval(-time.Second), "lifecycleetcdraft: WithPollInterval: must be > 0, got -1s"},
		{lifecycleetcdraft.WithJoinBackoff(), "lifecycleetcdraft: WithJoinBackoff: at least one delay is needed"},
		{lifecycleetcdraft.WithJoinBackoff(0, -time.Millisecond), "lifecycleetcdraft: WithJoinBackoff: delay 1 must be ≥ 0, got -1ms"},
		{nil, ""}, // a nil Option is no option
	} {
		storage := raft.NewMemoryStorage()
		rn := raft.RestartNode(raftConfig(1, storage, nodeOptions{}))
		tracker := newTracker(t)
		obs, err := lifecycleetcdraft.Observe(rn, storage, tracker, lifecycleetcdraft.WithPollInterval(time.Second), tc.opt)
		switch {
		case tc.want == "":
			if err != nil {
				t.Errorf("Observe with a nil Option: %v", err)
			} else if err := obs.Close(); err != nil {
				t.Error(err)
			}
		case err == nil || err.Error() != tc.want || obs != nil:
			t.Errorf("Observe: %v, %v; want nil, %q", obs, err, tc.want)
		case tracker.Current() != otellifecycle.StartingState():
			t.Errorf("a refused Observe moved the tracker to %v", tracker.Current())
		}
		rn.Stop()
	}

	// Every invalid option is named, in order.
	storage := raft.NewMemoryStorage()
	rn := raft.RestartNode(raftConfig(1, storage, nodeOptions{}))
	defer rn.Stop()
	_, err := lifecycleetcdraft.Observe(rn, storage, newTracker(t),
		lifecycleetcdraft.WithLeaderlessTimeout(-1), lifecycleetcdraft.WithPollInterval(0))
	want := "lifecycleetcdraft: WithLeaderlessTimeout: must be > 0, got -1ns\nlifecycleetcdraft: WithPollInterval: must be > 0, got 0s"
	if err == nil || err.Error() != want {
		t.Errorf("two invalid options: %v, want %q", err, want)
	}
}

// Observe refuses what it cannot observe: no node, no storage, no
// tracker, a stopped node.
func TestObserveRefusesWhatItCannotObserve(t *testing.T) {
	storage := raft.NewMemoryStorage()
	rn := raft.RestartNode(raftConfig(1, storage, nodeOptions{}))
	tracker := newTracker(t)
	for _, tc := range []struct {
		name    string
		n       raft.Node
		s       raft.Storage
		tracker *otellifecycle.Tracker
		want    string
	}{
		{"no node", nil, storage, tracker, "lifecycleetcdraft: Observe: node is nil"},
		{"no storage", rn, nil, tracker, "lifecycleetcdraft: Observe: storage is nil"},
		{"no tracker", rn, storage, nil, "lifecycleetcdraft: Observe: tracker is nil"},
	} {
		if obs, err := lifecycleetcdraft.Observe(tc.n, tc.s, tc.tracker); err == nil || err.Error() != tc.want || obs != nil {
			t.Errorf("%s: %v, %v; want an error saying %q", tc.name, obs, err, tc.want)
		}
	}
	rn.Stop()
	if obs, err := lifecycleetcdraft.Observe(rn, storage, tracker); err == nil || err.Error() != "lifecycleetcdraft: Observe: the node is stopped" || obs != nil {
		t.Errorf("stopped node: %v, %v; want an error", obs, err)
	}
}

// newTracker is node 1's tracker, for the tests that need no cluster.
func newTracker(t testing.TB) *otellifecycle.Tracker {
	t.Helper()
	return enginetest.Tracker(t, otellifecycle.WithAttributes(attribute.String("node.id", "1")))
}
