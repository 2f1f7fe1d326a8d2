package lifecycleetcd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A stopped member is not an outage for the others: with the leader
// crashed, the survivors know a new leader within an election and never
// leave Ready{3} (the stopped member is still in the cluster); the
// crashed member is Failed{"etcd server stopped"}.
func TestStoppedLeaderSurvivorsStayReady(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
	l := c.leader()
	survivors := c.others(l)
	changes := map[string]int64{}
	for _, m := range survivors {
		changes[m.name] = instruments.Point(t, m.Reader, "cluster.lifecycle.raft.leader.changes")
	}

	stopped := time.Now()
	l.crash()
	for _, m := range survivors {
		knew := m.waitLeaderOtherThan(t, l.id())
		t.Logf("%s knew the new leader %v after the leader stopped", m.name, knew.Sub(stopped).Round(time.Millisecond))
	}
	l.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	at, s, _ := l.EnteredAt(otellifecycle.Failed, stopped)
	if s != otellifecycle.FailedState("etcd server stopped") {
		t.Errorf("stopped leader: %v, want failed: etcd server stopped", s)
	}
	t.Logf("stopped leader %s Failed %v after the crash began (HardStop and Close took %v)", l.name,
		at.Sub(stopped).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))

	time.Sleep(3 * poll)
	for _, m := range survivors {
		if d := m.NotReadyAfter(stopped, time.Now()); d != 0 {
			t.Errorf("%s: not Ready for %v after the leader stopped:%s", m.name, d, m.Timeline(stopped))
		}
		m.WantStates(t, "starting", "bootstrapping", "ready:3")
		c.eventually(m.name+" counting the new leader", func() bool {
			return instruments.Point(t, m.Reader, "cluster.lifecycle.raft.leader.changes") > changes[m.name]
		})
	}
}

// A lost quorum is Failed on the survivor once the leaderless timeout has
// passed, with a reason that names the last leader; once the others are
// back on their data, everyone is Ready{3}. A follower crashes first, then
// the leader: the quorum is lost with the leader.
func TestQuorumLostFailsAfterTimeoutAndRecovers(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
	l := c.leader()
	survivor := c.others(l)[0]
	follower := c.others(survivor)[0]
	if follower == l {
		follower = c.others(survivor)[1]
	}
	gone := []*member{follower, l} // the leader last, so that it stays the last leader

	follower.crash()
	lost := time.Now()
	l.crash()
	survivor.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	at, s, _ := survivor.EnteredAt(otellifecycle.Failed, lost)
	want := otellifecycle.FailedState(fmt.Sprintf("no leader for more than %v (last leader %s)", leaderless, l.id()))
	if s != want {
		t.Errorf("survivor: %v, want %v", s, want)
	}
	if d := at.Sub(lost); d < leaderless {
		t.Errorf("survivor Failed %v after the quorum was lost, before the leaderless timeout %v", d, leaderless)
	}
	t.Logf("survivor %s Failed %v after the leader's crash began", survivor.name, at.Sub(lost).Round(time.Millisecond))

	back := time.Now()
	var restarted []*member
	for _, m := range gone {
		restarted = append(restarted, c.restart(m))
	}
	survivor.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), restarted...)
	at, _, _ = survivor.EnteredAt(otellifecycle.Ready, back)
	t.Logf("survivor %s Ready %v after the restarts began:%s", survivor.name, at.Sub(back).Round(time.Millisecond), survivor.Timeline(lost))
	for _, m := range restarted {
		m.WantStates(t, "starting", "restarting", "ready:3")
	}
}

// A member removed from the cluster is Failed{"removed from the
// configuration"}, before and after etcd stops it; the others count one
// voter less.
func TestRemovedMemberIsFailed(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
	f := c.others(c.leader())[0]

	c.eventually("the member removed", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := l.e.Server.RemoveMember(ctx, uint64(f.id()))
		return err == nil
	})
	f.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	enginetest.WaitAll(t, "Ready{2}", enginetest.IsReady(2), c.others(f)...)
	select {
	case <-f.e.Server.StopNotify(): // etcd stops a removed member by itself
	case <-time.After(waitFor):
		t.Fatal("the removed member's server still runs")
	}
	time.Sleep(3 * poll)
	// A member applies its removal, or hears of it first from its peers,
	// which refuse it: it then stops without knowing. Its reason says which
	// it knew once its server had stopped.
	want := []string{"starting", "bootstrapping", "ready:3", "failed:removed from the configuration"}
	applied := f.e.Server.IsIDRemoved(uint64(f.id()))
	if !applied {
		want = []string{"starting", "bootstrapping", "ready:3", "failed:etcd server stopped"}
	}
	f.WantStates(t, want...)
	t.Logf("%s applied its removal: %v", f.name, applied)
}

// Leave, then the member's removal, is the planned departure:
// Draining, then Stopping when etcd stops the removed server, never
// Failed. On the leader, Leave hands leadership over first.
func TestLeaveThenRemovalIsDrainingThenStopping(t *testing.T) {
	for _, who := range []string{"follower", "leader"} {
		t.Run(who, func(t *testing.T) {
			c := newCluster(t)
			ms := c.bootstrap(names(3))
			enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
			m := c.leader()
			if who == "follower" {
				m = c.others(m)[0]
			}
			others := c.others(m)
			// The service asks the cluster, through its leader, to remove
			// this member; etcd refuses to remove a voter until the others
			// have been connected for 5 s (its StrictReconfigCheck), so the
			// request retries, as an operator would.
			remove := func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, waitFor)
				defer cancel()
				for {
					l := c.leaderNow()
					if l != nil && l != m {
						if _, err := l.e.Server.RemoveMember(ctx, uint64(m.id())); err == nil {
							return nil
						}
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
			if err := m.obs.Leave(t.Context(), remove); err != nil {
				t.Fatal(err)
			}
			if who == "leader" && m.e.Server.Leader() == m.id() {
				t.Error("the leader leads after Leave")
			}
			m.WaitState(t, "Stopping", enginetest.IsPhase(otellifecycle.Stopping))
			m.WantStates(t, "starting", "bootstrapping", "ready:3", "draining", "stopping")
			enginetest.WaitAll(t, "Ready{2}", enginetest.IsReady(2), others...)
		})
	}
}

// Shutdown is Stopping, and Leave after it does nothing.
func TestShutdownIsStopping(t *testing.T) {
	c := newCluster(t)
	m := c.bootstrap(names(1))[0]
	m.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	if err := m.shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.obs.Shutdown(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := m.obs.Leave(t.Context(), nil); !errors.Is(err, lifecycleetcd.ErrClosed) {
		t.Errorf("Leave after Shutdown: %v, want ErrClosed", err)
	}
	m.WantStates(t, "starting", "bootstrapping", "ready:1", "stopping")
	if m.running() {
		t.Error("the server runs after Shutdown")
	}
}

// An error etcd reports through Etcd.Err (here: its client listener,
// closed under it) is Failed{"etcd: <error>"}, and the Observer passes it
// on through its own Err.
func TestEtcdErrorIsFailedAndPassedOn(t *testing.T) {
	c := newCluster(t)
	m := c.bootstrap(names(1))[0]
	m.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	for _, l := range m.e.Clients {
		_ = l.Close()
	}
	select {
	case err := <-m.obs.Err():
		t.Logf("etcd reported: %v", err)
		s := m.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
		if !strings.HasPrefix(s.Reason, "etcd: ") || !strings.Contains(s.Reason, err.Error()) {
			t.Errorf("Failed{%q}, want etcd: %v", s.Reason, err)
		}
	case <-time.After(waitFor):
		t.Fatal("no error from a closed client listener")
	}
}

// A fault the service declares holds through what etcd does (a leader
// change here) until Recover, which shows etcd's phase again at once.
func TestServiceFailHoldsUntilRecover(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
	l := c.leader()
	f := c.others(l)[0]

	f.obs.Fail(t.Context(), "disk full")
	if got := f.Tracker.Current(); got != otellifecycle.FailedState("disk full") {
		t.Fatalf("after Fail: %v", got)
	}
	if err := l.e.Server.MoveLeader(t.Context(), uint64(l.id()), uint64(f.id())); err != nil {
		t.Fatal(err)
	}
	f.waitLeaderOtherThan(t, l.id())
	time.Sleep(3 * poll)
	if got := f.Tracker.Current(); got != otellifecycle.FailedState("disk full") {
		t.Fatalf("Fail did not hold through a leader change: %v", got)
	}
	f.obs.Recover(t.Context())
	if got := f.Tracker.Current(); got != otellifecycle.ReadyState(3) {
		t.Fatalf("after Recover: %v, want Ready{3} at once", got)
	}
	f.obs.Fail(t.Context(), "")
	if got := f.Tracker.Current(); got != otellifecycle.FailedState("failed by the service") {
		t.Fatalf("Fail with no reason: %v", got)
	}
}
