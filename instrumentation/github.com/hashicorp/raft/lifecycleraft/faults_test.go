package lifecycleraft_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A leader election is not an outage: when the leader dies, the survivors
// stay Ready through the election (it is far shorter than the leaderless
// timeout), the dead node's own tracker says Raft shut down without being
// asked, and when the new leader removes the dead server the survivors
// follow the configuration to Ready{n-1}.
func TestLeaderKilledSurvivorsStayReady(t *testing.T) { leaderKilled(t, 3) }

// The same with five nodes.
func TestLeaderKilledFiveNodesSurvivorsStayReady(t *testing.T) { leaderKilled(t, 5) }

func leaderKilled(t *testing.T, size int) {
	c := newCluster(t, tcp)
	var nodes []*node
	for i := range size {
		nodes = append(nodes, c.add(fmt.Sprintf("n%d", i+1)))
	}
	c.form(nodes...)
	old := c.leader()
	survivors := c.followers(old)

	killed := time.Now()
	old.kill()
	old.WaitState(t, "Failed", func(s otellifecycle.State) bool { return s == otellifecycle.FailedState("raft shut down") })
	for _, s := range survivors {
		elected := s.waitLeaderOtherThan(t, old.id)
		_, l := s.r.LeaderWithID()
		t.Logf("%s: Raft knew the new leader %s %v after the kill", s.id, l, elected.Sub(killed).Round(time.Millisecond))
	}
	newLeader := c.leader()
	// Let the survivors' Observers poll a few times past the election.
	time.Sleep(4 * poll)
	settled := time.Now()
	for _, s := range survivors {
		notReady := s.NotReadyAfter(killed, settled)
		t.Logf("%s: tracker not Ready for %v of the failover; since the kill:%s", s.id, notReady, s.Timeline(killed))
		if notReady != 0 {
			t.Errorf("%s: not Ready for %v during a failover shorter than the leaderless timeout", s.id, notReady)
		}
		if _, f, ok := s.EnteredAt(otellifecycle.Failed, killed); ok {
			t.Errorf("%s: %v during a failover", s.id, f)
		}
	}

	// The configuration still lists the dead node until someone removes it;
	// then every survivor follows it (followers at their next poll).
	if err := newLeader.r.RemoveServer(old.id, 0, time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range survivors {
		s.WaitState(t, fmt.Sprintf("Ready{%d}", size-1), enginetest.IsReady(size-1))
		s.WantGauge(t, otellifecycle.Ready)
		s.WantStatesEnd(t, fmt.Sprintf("ready:%d", size), fmt.Sprintf("ready:%d", size-1))
	}
	old.WantGauge(t, otellifecycle.Failed)
	old.WantStatesEnd(t, "failed:raft shut down")
}

// When two of three nodes go down, the survivor (the leader, which steps
// down for want of a quorum) is Failed once it has had no leader for the
// leaderless timeout, and not before, with the reason; when the two come
// back on their storage (Restarting, then Ready) it is Ready again.
func TestQuorumLostFailsAfterTimeoutAndRecovers(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	survivor := c.leader()
	down := c.followers(survivor)

	lost := time.Now()
	for _, d := range down {
		d.kill()
	}
	failed := survivor.WaitState(t, "Failed", func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Failed })
	wantReason := fmt.Sprintf("no leader for more than %v (last leader %s)", leaderless, survivor.id)
	if failed.Reason != wantReason {
		t.Errorf("reason %q, want %q", failed.Reason, wantReason)
	}
	failedAt, _, _ := survivor.EnteredAt(otellifecycle.Failed, lost)
	t.Logf("%s: Failed %v after quorum was lost (leaderless timeout %v)", survivor.id, failedAt.Sub(lost).Round(time.Millisecond), leaderless)
	if d := failedAt.Sub(lost); d < leaderless {
		t.Errorf("Failed after %v, before the leaderless timeout %v", d, leaderless)
	}
	survivor.WantGauge(t, otellifecycle.Failed)

	back := time.Now()
	var again []*node
	for _, d := range down {
		again = append(again, c.restart(d))
	}
	survivor.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	readyAt := time.Now()
	t.Logf("%s: Ready %v after the two nodes restarted; since quorum was lost:%s",
		survivor.id, readyAt.Sub(back).Round(time.Millisecond), survivor.Timeline(lost))
	survivor.WantPhases(t, "starting", survivor.formedBy, "ready", "failed", "ready")
	survivor.WantGauge(t, otellifecycle.Ready)
	for _, d := range down {
		d.WantStatesEnd(t, "failed:raft shut down")
	}
	for _, a := range again {
		a.WaitState(t, "Ready{3}", enginetest.IsReady(3))
		a.WantStates(t, "starting", "restarting", "ready:3")
		a.WantGauge(t, otellifecycle.Ready)
		t.Logf("%s (restarted):%s", a.id, a.Timeline(back))
	}
}

// A network partition (in-memory transport, so the cut is exact): the
// isolated follower is Failed after the leaderless timeout, the majority
// keeps its leader and stays Ready throughout, and after the heal the
// isolated node is Ready again.
func TestPartitionedMinorityFailsMajorityStaysReady(t *testing.T) {
	c := newCluster(t, inmem)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	l := c.leader()
	iso := c.followers(l)[0]
	majority := c.followers(iso)

	cut := time.Now()
	iso.trans.(*raft.InmemTransport).DisconnectAll()
	for _, m := range majority {
		m.trans.(*raft.InmemTransport).Disconnect(iso.addr)
	}
	failed := iso.WaitState(t, "Failed", func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Failed })
	if want := fmt.Sprintf("no leader for more than %v (last leader %s)", leaderless, l.id); failed.Reason != want {
		t.Errorf("reason %q, want %q", failed.Reason, want)
	}
	failedAt, _, _ := iso.EnteredAt(otellifecycle.Failed, cut)
	t.Logf("%s: Failed %v after the cut", iso.id, failedAt.Sub(cut).Round(time.Millisecond))
	if d := failedAt.Sub(cut); d < leaderless {
		t.Errorf("Failed %v after the cut, before the leaderless timeout %v", d, leaderless)
	}
	iso.WantGauge(t, otellifecycle.Failed)

	heal := time.Now()
	for _, m := range majority {
		mt, it := m.trans.(*raft.InmemTransport), iso.trans.(*raft.InmemTransport)
		mt.Connect(iso.addr, it)
		it.Connect(m.addr, mt)
	}
	iso.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	t.Logf("%s: Ready %v after the heal;%s", iso.id, time.Since(heal).Round(time.Millisecond), iso.Timeline(cut))
	iso.WantGauge(t, otellifecycle.Ready)
	if got := iso.States(t); len(got) < 2 || !strings.HasPrefix(got[len(got)-2], "failed:") || got[len(got)-1] != "ready:3" {
		t.Errorf("%s: states %q, want … failed, ready:3", iso.id, got)
	}
	for _, m := range majority {
		if d := m.NotReadyAfter(cut, time.Now()); d != 0 {
			t.Errorf("%s (majority): not Ready for %v during the partition:%s", m.id, d, m.Timeline(cut))
		}
		m.WantGauge(t, otellifecycle.Ready)
	}
}

// A node that the service stops and starts again on its Raft storage is
// Stopping, then, as a new process, Restarting until it hears from the
// leader, then Ready; the others never notice a change of phase. (The
// storage is Raft's in-memory store, kept across the restart; the example
// node, examples/raft-node, does the same on BoltDB files.)
func TestRestartOnItsStorageIsRestartingThenReady(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	f := c.followers(c.leader())[0]

	stopped := time.Now()
	if err := f.obs.Shutdown(); err != nil {
		t.Fatal(err)
	}
	f.WantStatesEnd(t, "ready:3", "stopping")
	f.WantGauge(t, otellifecycle.Stopping)

	again := c.restart(f)
	again.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	again.WantStates(t, "starting", "restarting", "ready:3")
	again.WantGauge(t, otellifecycle.Ready)
	h := again.Tracker.History()
	t.Logf("%s: restarted; Restarting for %v;%s", again.id, h[1].InPhase.Round(time.Millisecond), again.Timeline(stopped))
	for _, n := range c.followers(f) {
		if n == again {
			continue
		}
		if d := n.NotReadyAfter(stopped, time.Now()); d != 0 {
			t.Errorf("%s: not Ready for %v while a follower restarted", n.id, d)
		}
	}
}

// A node removed from the configuration is Failed{"removed from the
// configuration"}, the others follow to Ready{2}; Failed is not terminal:
// joined again, the node is Ready{3}.
func TestRemovedNodeFailsAndMayJoinAgain(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	l := c.leader()
	gone := c.followers(l)[0]

	removed := time.Now()
	if err := l.r.RemoveServer(gone.id, 0, time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	gone.WaitState(t, "Failed{removed}", func(s otellifecycle.State) bool {
		return s == otellifecycle.FailedState("removed from the configuration")
	})
	gone.WantGauge(t, otellifecycle.Failed)
	for _, n := range c.followers(gone) {
		n.WaitState(t, "Ready{2}", enginetest.IsReady(2))
	}
	t.Logf("%s: since the removal:%s", gone.id, gone.Timeline(removed))

	if err := gone.obs.Join(t.Context(), addVoterVia(c.leaderNow, gone)); err != nil {
		t.Fatal(err)
	}
	gone.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	gone.WantStatesEnd(t, "failed:removed from the configuration", "joining:0", "ready:3")
	gone.WantGauge(t, otellifecycle.Ready)
}

// A removed node that then shuts down (Raft's own ShutdownOnRemove does
// that on a removed leader) stays Failed for its removal: the shutdown is
// its consequence, not news.
func TestRemovedThenShutDownStaysFailedForTheRemoval(t *testing.T) {
	c := newCluster(t, inmem)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	l := c.leader()
	gone := c.followers(l)[0]
	if err := l.r.RemoveServer(gone.id, 0, time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	gone.WaitState(t, "Failed{removed}", func(s otellifecycle.State) bool {
		return s == otellifecycle.FailedState("removed from the configuration")
	})
	gone.kill()
	time.Sleep(4 * poll)
	gone.WantPhases(t, "starting", gone.formedBy, "ready", "failed")
	gone.WantStatesEnd(t, "failed:removed from the configuration")
	gone.WantGauge(t, otellifecycle.Failed)
}

// A graceful leave by the leader: Draining while it hands leadership over
// and asks the new leader to remove it, Stopping when it shuts Raft down;
// the others stay Ready and follow to Ready{2}.
func TestGracefulLeaveIsDrainingThenStopping(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	l := c.leader()
	others := c.followers(l)

	left := time.Now()
	remove := func(context.Context) error {
		_, id := l.r.LeaderWithID()
		for _, n := range others {
			if n.id == id {
				return n.r.RemoveServer(l.id, 0, time.Second).Error()
			}
		}
		return fmt.Errorf("leader %q is not one of the others", id)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if err := l.obs.Leave(ctx, remove); err != nil {
		t.Fatal(err)
	}
	if got := l.Tracker.Current(); got != otellifecycle.DrainingState() {
		t.Fatalf("%s: %v after Leave, want draining", l.id, got)
	}
	l.WantGauge(t, otellifecycle.Draining)
	for _, n := range others {
		n.WaitState(t, "Ready{2}", enginetest.IsReady(2))
	}
	time.Sleep(4 * poll) // a removed, draining node must not turn Failed
	if err := l.obs.Shutdown(); err != nil {
		t.Fatal(err)
	}
	l.WantStatesEnd(t, "ready:3", "draining", "stopping")
	l.WantGauge(t, otellifecycle.Stopping)
	t.Logf("%s (left):%s", l.id, l.Timeline(left))
	for _, n := range others {
		if d := n.NotReadyAfter(left, time.Now()); d != 0 {
			t.Errorf("%s: not Ready for %v while the leader left:%s", n.id, d, n.Timeline(left))
		}
		n.WantGauge(t, otellifecycle.Ready)
	}
}

// A fault Raft cannot see (the service's disk, a dependency): Fail makes
// the node Failed with the service's reason and keeps it there through
// every poll, though Raft is healthy; Recover hands the phase back to Raft;
// Shutdown wins over Fail.
func TestServiceFailHoldsUntilRecover(t *testing.T) {
	c := newCluster(t, inmem)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	n := c.followers(c.leader())[0]
	ctx := t.Context()

	n.obs.Fail(ctx, "disk full\nphase=ready") // reason text is untrusted: one line, no fake fields
	want := otellifecycle.FailedState("disk full phase=ready")
	n.WaitState(t, "Failed{disk full}", func(s otellifecycle.State) bool { return s == want })
	time.Sleep(6 * poll) // polls see a leader and membership: the fault holds
	if got := n.Tracker.Current(); got != want {
		t.Fatalf("after polls: %v, want %v", got, want)
	}
	n.WantGauge(t, otellifecycle.Failed)

	n.obs.Recover(ctx)
	n.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	n.WantGauge(t, otellifecycle.Ready)

	n.obs.Fail(ctx, "")
	n.WaitState(t, "Failed{failed by the service}", func(s otellifecycle.State) bool {
		return s == otellifecycle.FailedState("failed by the service")
	})
	if err := n.obs.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n.WantStates(t, "starting", "joining:0", "ready:3", "failed:disk full phase=ready", "ready:3",
		"failed:failed by the service", "stopping")
}

// A Join that gave up is history once an operator adds the node and it is
// Ready: with three nodes, a leader failover then leaves it Ready like the
// other survivor; with two, the lost leader shows, after the leaderless
// timeout, as what it is (no leader), never as the old join failure.
func TestAJoinFailureEndsOnceTheNodeIsAMember(t *testing.T) {
	refused := errors.New("seed refused: not yet")
	joinFails := nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithJoinBackoff(0)}}
	failedJoin := otellifecycle.FailedState("join failed after 1 attempts: seed refused: not yet")
	// addedByAnOperator makes n's Join give up, then adds n as a voter on
	// the leader, and waits until every node is Ready{size}.
	addedByAnOperator := func(t *testing.T, c *cluster, n *node, size int) {
		t.Helper()
		if err := n.obs.Join(t.Context(), func(context.Context) error { return refused }); !errors.Is(err, refused) {
			t.Fatalf("Join: %v, want %v", err, refused)
		}
		n.WaitState(t, "Failed{join failed}", func(s otellifecycle.State) bool { return s == failedJoin })
		if err := c.leader().r.AddVoter(n.id, n.addr, 0, time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		for _, m := range c.live() {
			m.WaitState(t, fmt.Sprintf("Ready{%d}", size), enginetest.IsReady(size))
		}
	}

	t.Run("three nodes", func(t *testing.T) {
		c := newCluster(t, tcp)
		n1, n3 := c.add("n1"), c.add("n3")
		n2 := c.add("n2", joinFails)
		c.form(n1, n3)
		addedByAnOperator(t, c, n2, 3)
		old := c.leader()
		if old == n2 {
			t.Fatal("n2 leads: the test needs it a follower")
		}
		killed := time.Now()
		old.kill()
		n2.waitLeaderOtherThan(t, old.id)
		time.Sleep(4 * poll)
		for _, s := range c.followers(old) {
			t.Logf("%s: since the kill:%s", s.id, s.Timeline(killed))
			if _, f, ok := s.EnteredAt(otellifecycle.Failed, killed); ok {
				t.Errorf("%s: %v during a failover", s.id, f)
			}
			if d := s.NotReadyAfter(killed, time.Now()); d != 0 {
				t.Errorf("%s: not Ready for %v during a failover", s.id, d)
			}
		}
	})

	t.Run("two nodes", func(t *testing.T) {
		c := newCluster(t, tcp)
		n1 := c.add("n1")
		n2 := c.add("n2", joinFails)
		c.form(n1)
		addedByAnOperator(t, c, n2, 2)
		killed := time.Now()
		n1.kill()
		want := otellifecycle.FailedState(fmt.Sprintf("no leader for more than %v (last leader n1)", leaderless))
		n2.WaitState(t, "Failed{no leader}", func(s otellifecycle.State) bool { return s == want })
		at, first, _ := n2.EnteredAt(otellifecycle.Failed, killed)
		t.Logf("n2: since the kill:%s", n2.Timeline(killed))
		if first != want {
			t.Errorf("n2: first %v after the kill, want %v", first, want)
		}
		if d := at.Sub(killed); d < leaderless {
			t.Errorf("n2: Failed %v after the kill, before the leaderless timeout %v", d, leaderless)
		}
	})
}

// A leader that an operator removes (RemoveServer of its own ID; Raft's
// ShutdownOnRemove then shuts it down) is Failed for its removal, not
// for a shutdown: the configuration it had when it stopped no longer
// holds it.
func TestLeaderRemovedByAnOperatorIsFailedForTheRemoval(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	l := c.leader()
	others := c.followers(l)
	removed := time.Now()
	err := l.r.RemoveServer(l.id, 0, time.Second).Error()
	t.Logf("%s: RemoveServer of itself: %v", l.id, err)
	c.eventually(string(l.id)+" shut down by Raft", func() bool { return l.r.State() == raft.Shutdown })
	l.WaitState(t, "Failed{removed}", func(s otellifecycle.State) bool {
		return s == otellifecycle.FailedState("removed from the configuration")
	})
	time.Sleep(4 * poll)
	t.Logf("%s: since the removal:%s", l.id, l.Timeline(removed))
	l.WantStatesEnd(t, "ready:3", "failed:removed from the configuration")
	l.WantGauge(t, otellifecycle.Failed)
	for _, n := range others {
		n.WaitState(t, "Ready{2}", enginetest.IsReady(2))
	}
}

// Recover hands the phase back to Raft at once, even in a leader gap: a
// node that lost its quorum while the service had it Failed shows what
// Raft reports (the gap is shorter than the leaderless timeout: Ready as
// it was), then, at the timeout, Failed for want of a leader.
func TestRecoverDuringALeaderGapShowsWhatRaftReports(t *testing.T) {
	const timeout = 3 * time.Second // room for the steps between the gap and Recover
	c := newCluster(t, tcp)
	n1, n2 := c.add("n1"), c.add("n2")
	n3 := c.add("n3", nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithLeaderlessTimeout(timeout)}})
	c.form(n1, n2, n3)
	if c.leader() == n3 {
		if err := n3.r.LeadershipTransfer().Error(); err != nil {
			t.Fatal(err)
		}
		c.eventually("a leader other than n3", func() bool { l := c.leaderNow(); return l != nil && l != n3 })
	}
	ctx := t.Context()
	n3.obs.Fail(ctx, "disk full")
	n3.WaitState(t, "Failed{disk full}", func(s otellifecycle.State) bool { return s == otellifecycle.FailedState("disk full") })

	last := c.leader()
	lost := time.Now()
	n1.kill()
	n2.kill()
	c.eventually("n3 without a leader", func() bool { _, id := n3.r.LeaderWithID(); return id == "" })
	time.Sleep(2 * poll) // the Observer has read the gap
	n3.obs.Recover(ctx)
	got := n3.Tracker.Current()
	if since := time.Since(lost); since >= timeout {
		t.Fatalf("Recover came %v after the quorum was lost, past the leaderless timeout %v: nothing shown", since, timeout)
	}
	if got != otellifecycle.ReadyState(3) {
		t.Errorf("right after Recover in a leader gap: %v, want ready (3 nodes), what Raft reports", got)
	}
	want := otellifecycle.FailedState(fmt.Sprintf("no leader for more than %v (last leader %s)", timeout, last.id))
	n3.WaitState(t, "Failed{no leader}", func(s otellifecycle.State) bool { return s == want })
	t.Logf("n3: since the quorum was lost:%s", n3.Timeline(lost))
	n3.WantStatesEnd(t, "failed:disk full", "ready:3", "failed:"+want.Reason)
}

// A node alone in its cluster has nobody to hand leadership to: Leave
// drains it without an error (a lone service stopping on SIGTERM is no
// fault), and Shutdown stops it.
func TestALoneLeaderLeavesWithoutATransfer(t *testing.T) {
	c := newCluster(t, tcp)
	n1 := c.add("n1")
	c.form(n1)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if err := n1.obs.Leave(ctx, nil); err != nil {
		t.Fatalf("Leave of a lone leader: %v", err)
	}
	if got := n1.Tracker.Current(); got != otellifecycle.DrainingState() {
		t.Fatalf("%v after Leave, want draining", got)
	}
	if err := n1.obs.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n1.WantStatesEnd(t, "ready:1", "draining", "stopping")
}
