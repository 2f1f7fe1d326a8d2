package lifecycleetcdraft_test

import (
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Raft never waits for the lifecycle: with node 1's tracker stalled (a
// policy that blocks its move to Ready, a sink that never returns, a
// subscriber that never reads), node 1 still elects, commits, hands
// leadership on and applies a configuration change; its Ready loop's
// obs.Ready calls return at once, the signals its stuck Observer cannot
// take being merged and counted; a collection does not wait either; and
// once the tracker is released the Observer catches up from the node's
// Status.
func TestStalledTrackerNeverBlocksRaft(t *testing.T) {
	stall := enginetest.NewStall()
	defer stall.Release() // before the cleanups, which close the trackers
	stalled := nodeOptions{tracker: stall.Options()}
	c := newCluster(t)
	n1 := c.bootstrap([]uint64{1}, stalled)[0]
	_, unsubscribe := n1.Tracker.Subscribe(1) // never read
	defer unsubscribe()
	c.eventually("node 1 leading, its Observer stuck on the way to Ready", func() bool {
		return n1.rn.Status().Lead == 1 && stall.Blocked()
	})

	// Node 1 adds two voters; they get Ready through their own Observers.
	n2, n3 := c.fresh(2), c.fresh(3)
	for _, n := range []*node{n2, n3} {
		c.change(confChange(pb.ConfChangeAddNode, n.id), n.id, "voter")
		n.WaitState(t, "Ready", otellifecycle.State.IsReady)
	}
	// Leadership moves around (three times at least) until node 1's Ready
	// loop has had to merge signals its stuck Observer could not take.
	transfers := 0
	c.eventually("three leadership transfers and a merged signal", func() bool {
		if transfers >= 3 && n1.obs.Stats().Merged > 0 {
			return true
		}
		l := c.leader()
		to := c.followers(l)[transfers%2]
		l.rn.TransferLeadership(t.Context(), l.id, to.id)
		to.waitLeaderOtherThan(t, l.id)
		transfers++
		return false
	})
	// It still commits: a proposal reaches node 1's applied index.
	applied := n1.rn.Status().Applied
	l := c.leader()
	if err := l.rn.Propose(t.Context(), []byte("still committing")); err != nil {
		t.Fatal(err)
	}
	c.eventually("node 1 applying a new entry", func() bool { return n1.rn.Status().Applied > applied })
	n1.Collect(t) // a collection does not wait on the stalled Observer either

	if got := n1.Tracker.Current(); got.Phase != otellifecycle.Bootstrapping {
		t.Fatalf("node 1 is %v while its tracker is stalled: the stall is not real", got)
	}
	if max := time.Duration(n1.readyMax.Load()); max > 50*time.Millisecond {
		t.Errorf("an obs.Ready call took %v while the tracker was stalled", max)
	}
	stats := n1.obs.Stats()
	stalledFor := stall.StalledFor()
	t.Logf("node 1: stalled %v, %d leadership transfers, %d signals (%d merged), %d Status reads, longest obs.Ready %v",
		stalledFor, transfers, stats.Signals, stats.Merged, stats.Reads, time.Duration(n1.readyMax.Load()))

	stall.Release()
	n1.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	n1.WantPhases(t, "starting", "bootstrapping", "ready")
	n1.WantGauge(t, otellifecycle.Ready)
}
