package lifecyclememberlist_test

import (
	"testing"
	"time"

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
		assertGauge(t, n, "ready")
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
	assertGauge(t, leaver, "stopping")
	for _, n := range stayers {
		assertTail(t, n, otellifecycle.ReadyState(3), otellifecycle.ReadyState(2))
		assertGauge(t, n, "ready")
	}
	if err := leaver.obs.Leave(time.Second); err == nil {
		t.Error("Leave after Shutdown returned nil")
	}
	if err := leaver.obs.Join(t.Context(), nil); err == nil {
		t.Error("Join after Shutdown returned nil")
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
	assertGauge(t, nodes[1], "draining")
}
