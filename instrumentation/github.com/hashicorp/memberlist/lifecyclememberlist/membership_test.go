package lifecyclememberlist_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestReadyFollowsAMemberKilledWithoutLeaving(t *testing.T) {
	nodes := cluster(t, 4)
	killed, survivors := nodes[3], nodes[:3]

	died := time.Now()
	if err := killed.obs.Memberlist().Shutdown(); err != nil { // a crash: no leave message
		t.Fatal(err)
	}
	for _, n := range survivors {
		waitFor(t, n, otellifecycle.ReadyState(3))
	}
	for _, n := range survivors {
		h := n.tr.History()
		last := h[len(h)-1]
		t.Logf("%s: Ready{3} %v after the kill (failure detection)", n.obs.Memberlist().LocalNode().Name, last.At.Sub(died).Round(time.Millisecond))
		assertTail(t, n, otellifecycle.ReadyState(4), otellifecycle.ReadyState(3))
		testsupport.WantStateGauge(t, n.reader, otellifecycle.Ready)
		if got := n.obs.Memberlist().NumMembers(); got != 3 {
			t.Errorf("NumMembers %d, tracker Ready{3}", got)
		}
	}
	// The dead node cannot know: memberlist gives no signal for its own
	// Shutdown, and it was not asked through the Observer.
	if got := killed.tr.Current(); got != otellifecycle.ReadyState(4) {
		t.Errorf("killed node: %v, want it still ready (4 nodes)", got)
	}
}

func TestLeaverDrainsThenStopsAndTheOthersFollow(t *testing.T) {
	nodes := cluster(t, 3)
	leaver, stayers := nodes[2], nodes[:2]

	left := time.Now()
	if err := leaver.obs.Leave(time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if got := leaver.tr.Current(); got != otellifecycle.DrainingState() {
		t.Fatalf("after Leave: %v, want draining", got)
	}
	for _, n := range stayers {
		at := waitFor(t, n, otellifecycle.ReadyState(2))
		t.Logf("%s: Ready{2} within %v of the leave", n.obs.Memberlist().LocalNode().Name, at.Sub(left).Round(time.Millisecond))
	}
	if err := leaver.obs.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	assertTail(t, leaver, otellifecycle.ReadyState(3), otellifecycle.DrainingState(), otellifecycle.StoppingState())
	testsupport.WantStateGauge(t, leaver.reader, otellifecycle.Stopping)
	for _, n := range stayers {
		assertTail(t, n, otellifecycle.ReadyState(3), otellifecycle.ReadyState(2))
		testsupport.WantStateGauge(t, n.reader, otellifecycle.Ready)
	}
	if err := leaver.obs.Leave(time.Second); !errors.Is(err, lifecyclememberlist.ErrClosed) {
		t.Errorf("Leave after Shutdown: %v, want ErrClosed", err)
	}
	if err := leaver.obs.Join(t.Context(), nil); !errors.Is(err, lifecyclememberlist.ErrClosed) {
		t.Errorf("Join after Shutdown: %v, want ErrClosed", err)
	}
}

func TestLeaveCalledOnMemberlistItselfIsDraining(t *testing.T) {
	nodes := cluster(t, 2)
	if err := nodes[1].obs.Memberlist().Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, nodes[1], otellifecycle.DrainingState())
	waitFor(t, nodes[0], otellifecycle.ReadyState(1))
	assertTail(t, nodes[1], otellifecycle.ReadyState(2), otellifecycle.DrainingState())
	testsupport.WantStateGauge(t, nodes[1].reader, otellifecycle.Draining)
}

// Leave and Shutdown may race: memberlist panics on a Leave after its
// Shutdown ("leave after shutdown"), and the Observer never lets one
// through. Gossip and probes an hour apart keep the leave message from
// going out, so the first Leave holds memberlist's leave lock for its whole
// timeout while the second waits for it and the Shutdown comes.
func TestLeaveRacingShutdownNeverPanics(t *testing.T) {
	slow := func(c *memberlist.Config) {
		c.GossipInterval = time.Hour
		c.ProbeInterval = time.Hour
		c.PushPullInterval = time.Hour
	}
	a := start(t, "a", setup{conf: slow})
	if err := a.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	b := start(t, "b", setup{conf: slow})
	if err := b.obs.Join(t.Context(), []string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, otellifecycle.ReadyState(2))

	const leaveTimeout = 300 * time.Millisecond
	var wg sync.WaitGroup
	leaves := make([]error, 2)
	for i := range leaves {
		wg.Go(func() { leaves[i] = a.obs.Leave(leaveTimeout) })
	}
	time.Sleep(leaveTimeout / 3) // both Leaves are under way
	if err := a.obs.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	t.Logf("the two Leaves returned %v and %v", leaves[0], leaves[1])
	assertTail(t, a, otellifecycle.DrainingState(), otellifecycle.StoppingState())
	if err := a.obs.Leave(leaveTimeout); !errors.Is(err, lifecyclememberlist.ErrClosed) {
		t.Errorf("Leave after Shutdown: %v, want ErrClosed", err)
	}
}

// Close and Shutdown may be called any number of times, from many
// goroutines at once and while Leave and Join run; every call returns,
// with the first call's result, and memberlist is shut down.
func TestCloseAndShutdownAreIdempotentAndSafeConcurrently(t *testing.T) {
	nodes := cluster(t, 2)
	n := nodes[1]
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Go(func() { errs <- n.obs.Close() })
		wg.Go(func() { errs <- n.obs.Shutdown() })
		wg.Go(func() {
			if err := n.obs.Leave(100 * time.Millisecond); err != nil && !errors.Is(err, lifecyclememberlist.ErrClosed) {
				errs <- err
			}
		})
		wg.Go(func() {
			if err := n.obs.Join(t.Context(), nil); err != nil && !errors.Is(err, lifecyclememberlist.ErrClosed) &&
				!strings.Contains(err.Error(), "another Join is running") {
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
	for range 2 {
		if err := n.obs.Shutdown(); err != nil {
			t.Errorf("Shutdown again: %v", err)
		}
		if err := n.obs.Close(); err != nil {
			t.Errorf("Close again: %v", err)
		}
	}
	waitFor(t, nodes[0], otellifecycle.ReadyState(1)) // memberlist on n is gone
}
