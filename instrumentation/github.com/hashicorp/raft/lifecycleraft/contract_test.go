package lifecycleraft_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Observe refuses what it cannot work with, with an error that says what,
// and an invalid option with one that names it; it neither panics nor
// moves the tracker nor stays attached to Raft.
func TestObserveRefusesNilsAndInvalidOptionsNamingThem(t *testing.T) {
	r, _ := exampleRaft("n1")
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	tracker := enginetest.Tracker(t)

	for _, tc := range []struct {
		name    string
		r       *raft.Raft
		tracker *otellifecycle.Tracker
		self    raft.ServerID
		opt     lifecycleraft.Option
		want    string
	}{
		{"nil raft", nil, tracker, "n1", nil, "lifecycleraft: Observe: raft is nil"},
		{"nil tracker", r, nil, "n1", nil, "lifecycleraft: Observe: tracker is nil"},
		{"no server ID", r, tracker, "", nil, "lifecycleraft: Observe: self, the node's server ID, is empty"},
		{"zero leaderless timeout", r, tracker, "n1", lifecycleraft.WithLeaderlessTimeout(0),
			"lifecycleraft: WithLeaderlessTimeout: must be > 0, got 0s"},
		{"negative poll interval", r, tracker, "n1", lifecycleraft.WithPollInterval(-time.Second),
			"lifecycleraft: WithPollInterval: must be > 0, got -1s"},
		{"empty join backoff", r, tracker, "n1", lifecycleraft.WithJoinBackoff(),
			"lifecycleraft: WithJoinBackoff: at least one delay is needed"},
		{"negative join delay", r, tracker, "n1", lifecycleraft.WithJoinBackoff(0, -time.Second),
			"lifecycleraft: WithJoinBackoff: delay 1 must be ≥ 0, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := lifecycleraft.Observe(tc.r, tc.tracker, tc.self, tc.opt)
			if err == nil || obs != nil {
				if obs != nil {
					_ = obs.Close()
				}
				t.Fatalf("Observe returned (%v, %v), want the error %q", obs, err, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
	if got := tracker.Current(); got != otellifecycle.StartingState() {
		t.Errorf("a refused Observe moved the tracker to %v", got)
	}
}

// Close and Shutdown may be called any number of times, from many
// goroutines at once and while the other methods run; every call returns,
// with the first call's result.
func TestCloseAndShutdownAreIdempotentAndSafeConcurrently(t *testing.T) {
	c := newCluster(t, inmem)
	n1, n2 := c.add("n1"), c.add("n2")
	c.form(n1, n2)

	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Go(func() { errs <- n2.obs.Close() })
		wg.Go(func() { errs <- n2.obs.Shutdown() })
		wg.Go(func() { n2.obs.Fail(ctx, "disk full") })
		wg.Go(func() { n2.obs.Recover(ctx) })
		wg.Go(func() {
			if err := n2.obs.Join(ctx, func(context.Context) error { return nil }); err != nil && !errors.Is(err, lifecycleraft.ErrClosed) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := n2.obs.Shutdown(); err != nil {
		t.Errorf("Shutdown again: %v", err)
	}
	if err := n2.obs.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
	if n2.r.State() != raft.Shutdown {
		t.Errorf("Raft is %v after Shutdown", n2.r.State())
	}
	// Whether Close or Shutdown came first, the tracker is what the
	// Observer last set, and nothing moves it now.
	last := n2.Tracker.Current()
	time.Sleep(4 * poll)
	if got := n2.Tracker.Current(); got != last {
		t.Errorf("the tracker moved from %v to %v after Close", last, got)
	}
}

// After Close, Shutdown or Leave, Join asks the cluster nothing and
// returns ErrClosed: a node that is going away is not added back.
func TestJoinAfterCloseShutdownOrLeaveIsErrClosed(t *testing.T) {
	for name, end := range map[string]func(*lifecycleraft.Observer) error{
		"Close":    (*lifecycleraft.Observer).Close,
		"Shutdown": (*lifecycleraft.Observer).Shutdown,
		"Leave":    func(o *lifecycleraft.Observer) error { return o.Leave(t.Context(), nil) },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, inmem)
			n := c.add("n1")
			if err := end(n.obs); err != nil {
				t.Fatal(err)
			}
			called := false
			err := n.obs.Join(t.Context(), func(context.Context) error { called = true; return nil })
			if !errors.Is(err, lifecycleraft.ErrClosed) || called {
				t.Errorf("Join after %s: %v, join called: %v; want ErrClosed and no call", name, err, called)
			}
		})
	}
}

// A Shutdown or a Leave that comes while Join waits between two attempts
// ends the Join: ErrClosed, no further attempt, and the leader's
// configuration does not gain a node that is leaving or gone.
func TestJoinStopsWhenTheNodeGoesAwayBetweenAttempts(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*node) error
		last string // the node's state at the end
	}{
		{"Shutdown", func(n *node) error { return n.obs.Shutdown() }, "stopping"},
		{"Leave", func(n *node) error { return n.obs.Leave(t.Context(), nil) }, "draining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, inmem)
			n1 := c.add("n1")
			c.form(n1)
			n2 := c.add("n2", nodeOptions{observer: []lifecycleraft.Option{
				lifecycleraft.WithJoinBackoff(0, 300*time.Millisecond),
			}})
			firstFailed := make(chan struct{})
			calls := 0
			joined := make(chan error, 1)
			go func() {
				joined <- n2.obs.Join(t.Context(), func(context.Context) error {
					if calls++; calls == 1 {
						close(firstFailed)
						return errors.New("seed busy")
					}
					return n1.r.AddVoter(n2.id, n2.addr, 0, time.Second).Error()
				})
			}()
			<-firstFailed
			if err := tc.end(n2); err != nil {
				t.Fatal(err)
			}
			if err := <-joined; !errors.Is(err, lifecycleraft.ErrClosed) {
				t.Errorf("Join: %v, want ErrClosed", err)
			}
			if calls != 1 {
				t.Errorf("join called %d times, want once: the second attempt came after %s", calls, tc.name)
			}
			time.Sleep(4 * poll)
			fut := n1.r.GetConfiguration()
			if err := fut.Error(); err != nil {
				t.Fatal(err)
			}
			if servers := fut.Configuration().Servers; len(servers) != 1 {
				t.Errorf("the leader's configuration is %v, want n1 alone", servers)
			}
			n2.WantStatesEnd(t, "joining:0", tc.last)
		})
	}
}

// One Join at a time: a second one, while the first runs, returns an
// error at once and calls nothing.
func TestJoinWhileAnotherRunsIsAnError(t *testing.T) {
	c := newCluster(t, inmem)
	n := c.add("n1", nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithJoinBackoff(0)}})
	inJoin, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- n.obs.Join(t.Context(), func(context.Context) error {
			close(inJoin)
			<-release
			return errors.New("refused")
		})
	}()
	<-inJoin
	called := false
	err := n.obs.Join(t.Context(), func(context.Context) error { called = true; return nil })
	close(release)
	if err == nil || called || !strings.Contains(err.Error(), "another Join is running") {
		t.Errorf("second Join: %v, join called: %v; want an error and no call", err, called)
	}
	if err := <-first; err == nil {
		t.Error("the first Join, refused on every attempt, returned nil")
	}
}
