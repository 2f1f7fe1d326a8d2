package lifecycleetcd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// etcd never waits for the lifecycle: with m1's tracker stalled (a policy
// that blocks its move to Ready, a sink that never returns, a subscriber
// that never reads), m1 still serves writes, takes the leadership and hands
// it on; the error its closed client listener reports through Etcd.Err is
// taken at once and passed on; a collection does not wait either; and once
// the tracker is released the Observer catches up from the server's state.
func TestStalledTrackerNeverBlocksEtcd(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before the cleanups, which close the trackers

	var mu sync.Mutex
	var blockedAt time.Time
	stalled := memberOptions{tracker: []otellifecycle.Option{
		otellifecycle.WithTransitionPolicy(func(_, to otellifecycle.State) error {
			if to.Phase == otellifecycle.Ready {
				mu.Lock()
				if blockedAt.IsZero() {
					blockedAt = time.Now()
				}
				mu.Unlock()
				<-release
			}
			return nil
		}),
		otellifecycle.WithSinks(otellifecycle.SinkFunc(func(ctx context.Context, _ otellifecycle.Transition) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})),
	}}
	c := newCluster(t)
	ms := c.bootstrap(names(3), stalled)
	m1 := ms[0]
	_, unsubscribe := m1.tracker.Subscribe(1) // never read
	defer unsubscribe()
	c.eventually("m1 serving, its Observer stuck on the way to Ready", func() bool {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-m1.e.Server.ReadyNotify():
			return !blockedAt.IsZero()
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
	m1.collect(t) // a collection does not wait on the stalled Observer either

	if got := m1.tracker.Current(); got.Phase != otellifecycle.Bootstrapping {
		t.Fatalf("m1 is %v while its tracker is stalled: the stall is not real", got)
	}
	mu.Lock()
	stalledFor := time.Since(blockedAt).Round(time.Millisecond)
	mu.Unlock()
	stats := m1.obs.Stats()
	t.Logf("m1: stalled %v; %d notifications, %d reads", stalledFor, stats.Signals, stats.Reads)

	unblock()
	m1.waitState(t, "Failed", isPhase(otellifecycle.Failed))
	m1.wantStates(t, "starting", "bootstrapping", "ready:3", "failed:etcd: "+reported.Error())
	m1.wantGauge(t, otellifecycle.Failed)
}
