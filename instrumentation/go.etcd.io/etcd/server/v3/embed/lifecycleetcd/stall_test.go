package lifecycleetcd_test

import (
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// etcd never waits for the lifecycle: with m1's tracker stalled (a policy
// that blocks its move to Ready, a sink that never returns, a subscriber
// that never reads), m1 still serves writes, takes the leadership and hands
// it on; the error its closed client listener reports through Etcd.Err is
// taken at once and passed on; a collection does not wait either; and once
// the tracker is released the Observer catches up from the server's state.
func TestStalledTrackerNeverBlocksEtcd(t *testing.T) {
	stall := enginetest.NewStall()
	defer stall.Release() // before the cleanups, which close the trackers
	stalled := memberOptions{tracker: stall.Options()}
	c := newCluster(t)
	ms := c.bootstrap(names(3), stalled)
	m1 := ms[0]
	_, unsubscribe := m1.Tracker.Subscribe(1) // never read
	defer unsubscribe()
	c.eventually("m1 serving, its Observer stuck on the way to Ready", func() bool {
		select {
		case <-m1.e.Server.ReadyNotify():
			return stall.Blocked()
		default:
			return false
		}
	})

	// m1 serves writes and leads, then hands the leadership on.
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if _, err := m1.e.Server.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("still serving")}); err != nil {
		t.Fatalf("m1 could not serve a write while its tracker was stalled: %v", err)
	}
	if l := c.leader(); l != m1 {
		if err := l.e.Server.MoveLeader(ctx, uint64(l.id()), uint64(m1.id())); err != nil {
			t.Fatal(err)
		}
	}
	c.eventually("m1 leading", func() bool { return m1.e.Server.Leader() == m1.id() })
	if err := m1.e.Server.MoveLeader(ctx, uint64(m1.id()), uint64(ms[1].id())); err != nil {
		t.Fatalf("m1 could not hand its leadership on while its tracker was stalled: %v", err)
	}
	// Its client listener, closed under it, reports an error through
	// Etcd.Err: the Observer takes it at once.
	closed := time.Now()
	for _, l := range m1.e.Clients {
		_ = l.Close()
	}
	var reported error
	select {
	case reported = <-m1.obs.Err():
		t.Logf("m1's Etcd.Err passed on %v after the listener closed: %v", time.Since(closed).Round(time.Millisecond), reported)
	case <-time.After(waitFor):
		t.Fatal("etcd's error waited on the stalled tracker")
	}
	m1.Collect(t) // a collection does not wait on the stalled Observer either

	if got := m1.Tracker.Current(); got.Phase != otellifecycle.Bootstrapping {
		t.Fatalf("m1 is %v while its tracker is stalled: the stall is not real", got)
	}
	stalledFor := stall.StalledFor()
	stats := m1.obs.Stats()
	t.Logf("m1: stalled %v; %d notifications, %d reads", stalledFor, stats.Signals, stats.Reads)

	stall.Release()
	m1.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	m1.WantStates(t, "starting", "bootstrapping", "ready:3", "failed:etcd: "+reported.Error())
	m1.WantGauge(t, otellifecycle.Failed)
}
