package lifecycleraft_test

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Raft never waits for the lifecycle: with n1's tracker stalled (a policy
// that blocks its move to Ready, a sink that never returns, a subscriber
// that never reads), n1's Raft still leads, adds servers, moves leadership
// and commits; the observations n1's stalled Observer cannot take are
// dropped and counted; and once the tracker is released the Observer
// catches up from Raft's state.
func TestStalledTrackerNeverBlocksRaft(t *testing.T) {
	stall := enginetest.NewStall()
	defer stall.Release() // before the cleanups, which close the trackers
	stalled := nodeOptions{tracker: stall.Options()}
	c := newCluster(t, tcp)
	n1 := c.add("n1", stalled)
	n2, n3 := c.add("n2"), c.add("n3")
	_, unsubscribe := n1.Tracker.Subscribe(1) // never read
	defer unsubscribe()

	ctx := t.Context()
	if err := n1.obs.Bootstrap(ctx, raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n1.id, Address: n1.addr},
	}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("n1 leading, its Observer stuck on the way to Ready", func() bool {
		return n1.r.State() == raft.Leader && stall.Blocked()
	})

	// n1's Raft adds two servers; they get Ready through their own Observers.
	for _, n := range []*node{n2, n3} {
		if err := n.obs.Join(ctx, addVoterVia(func() *node { return n1 }, n)); err != nil {
			t.Fatal(err)
		}
		n.WaitState(t, "Ready", otellifecycle.State.IsReady)
	}
	// Leadership moves around until n1's Observer has had to drop some.
	transfers := 0
	c.eventually("a dropped observation", func() bool {
		if n1.obs.Stats().Dropped > 0 {
			return true
		}
		if l := c.leaderNow(); l != nil && l.r.LeadershipTransfer().Error() == nil {
			transfers++
		}
		return false
	})
	if err := c.leader().r.Apply([]byte("still committing"), time.Second).Error(); err != nil {
		t.Fatalf("Raft could not commit while the tracker was stalled: %v", err)
	}
	n1.Collect(t) // a collection does not wait on the stalled Observer either
	if got := n1.Tracker.Current(); got.Phase != otellifecycle.Bootstrapping {
		t.Fatalf("n1 is %v while its tracker is stalled: the stall is not real", got)
	}
	stats := n1.obs.Stats()
	t.Logf("n1: %d leadership transfers, %d observations delivered, %d dropped while stalled for %v",
		transfers, stats.Observed, stats.Dropped, stall.StalledFor())

	stall.Release()
	n1.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	n1.WantPhases(t, "starting", "bootstrapping", "ready")
	n1.WantGauge(t, otellifecycle.Ready)
}
