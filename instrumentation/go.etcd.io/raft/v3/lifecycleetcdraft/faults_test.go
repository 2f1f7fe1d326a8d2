package lifecycleetcdraft_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A stopped leader is not an outage: the survivors of a 5-node cluster
// know a new leader within an election and never leave Ready{5} (the
// stopped node is still in the configuration); the stopped node, stopped
// without Shutdown, is Failed{"raft node stopped"}.
func TestStoppedLeaderSurvivorsStayReady(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(5))
	enginetest.WaitAll(t, "Ready{5}", enginetest.IsReady(5), nodes...)
	l := c.leader()
	survivors := c.followers(l)
	changes := map[uint64]int64{}
	for _, n := range survivors {
		changes[n.id] = instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes")
	}

	stopped := time.Now()
	l.kill(c.net)
	for _, n := range survivors {
		knew := n.waitLeaderOtherThan(t, l.id)
		t.Logf("%x knew the new leader %v after the leader stopped", n.id, knew.Sub(stopped).Round(time.Millisecond))
	}
	at, s, ok := time.Time{}, otellifecycle.State{}, false
	c.eventually("the stopped leader Failed", func() bool {
		at, s, ok = l.EnteredAt(otellifecycle.Failed, stopped)
		return ok
	})
	if s != otellifecycle.FailedState("raft node stopped") {
		t.Errorf("stopped leader: %v, want failed: raft node stopped", s)
	}
	t.Logf("stopped leader %x Failed %v after its node stopped", l.id, at.Sub(stopped).Round(time.Millisecond))

	time.Sleep(3 * poll) // what the survivors' Observers would show, they show by now
	for _, n := range survivors {
		if d := n.NotReadyAfter(stopped, time.Now()); d != 0 {
			t.Errorf("%x: not Ready for %v after the leader stopped:%s", n.id, d, n.Timeline(stopped))
		}
		n.WantStates(t, "starting", "bootstrapping", "ready:5")
		if got := instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes"); got <= changes[n.id] {
			t.Errorf("%x: leader.changes %d, want more than %d", n.id, got, changes[n.id])
		}
	}
}

// A lost quorum is Failed on every node once the leaderless timeout has
// passed, with a reason that names the last leader, and Ready again as
// soon as the quorum is back. The leader, cut off, steps down by
// CheckQuorum.
func TestQuorumLostFailsAfterTimeoutAndRecovers(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	for _, n := range nodes {
		c.eventually("the leader known everywhere", func() bool { return n.rn.Status().Lead == l.id })
	}

	lost := time.Now()
	c.net.isolate(ids(3)...)
	want := otellifecycle.FailedState(fmt.Sprintf("no leader for more than %v (last leader %x)", leaderless, l.id))
	for _, n := range nodes {
		n.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
		at, s, _ := n.EnteredAt(otellifecycle.Failed, lost)
		if s != want {
			t.Errorf("%x: %v, want %v", n.id, s, want)
		}
		if d := at.Sub(lost); d < leaderless {
			t.Errorf("%x: Failed %v after the quorum was lost, before the leaderless timeout %v", n.id, d, leaderless)
		}
		t.Logf("%x Failed %v after the quorum was lost", n.id, at.Sub(lost).Round(time.Millisecond))
	}

	healed := time.Now()
	c.net.heal()
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	for _, n := range nodes {
		at, _, _ := n.EnteredAt(otellifecycle.Ready, healed)
		t.Logf("%x Ready %v after the quorum was back:%s", n.id, at.Sub(healed).Round(time.Millisecond), n.Timeline(lost))
		n.WantPhases(t, "starting", "bootstrapping", "ready", "failed", "ready")
	}
}

// A partitioned minority (the leader and one follower of five) is Failed
// after the leaderless timeout, the leader having stepped down by
// CheckQuorum; the majority elects a leader of its own and never leaves
// Ready. Healed, the minority is Ready again, and with PreVote its return
// does not unseat the majority's leader.
func TestPartitionedMinorityFailsAndTheMajorityStaysReady(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(5))
	enginetest.WaitAll(t, "Ready{5}", enginetest.IsReady(5), nodes...)
	l := c.leader()
	minority := []*node{l, c.followers(l)[0]}
	majority := slices.DeleteFunc(slices.Clone(nodes), func(n *node) bool { return slices.Contains(minority, n) })
	var minIDs, majIDs []uint64
	for _, n := range minority {
		minIDs = append(minIDs, n.id)
	}
	for _, n := range majority {
		majIDs = append(majIDs, n.id)
	}

	cut := time.Now()
	c.net.partition(minIDs, majIDs)
	for _, n := range minority {
		n.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
		at, s, _ := n.EnteredAt(otellifecycle.Failed, cut)
		t.Logf("minority %x: %v %v after the partition", n.id, s, at.Sub(cut).Round(time.Millisecond))
	}
	var newLeader uint64
	for _, n := range majority {
		n.waitLeaderOtherThan(t, l.id)
		newLeader = n.rn.Status().Lead
	}
	changes := map[uint64]int64{}
	for _, n := range majority {
		c.eventually("the new leader counted", func() bool {
			changes[n.id] = instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes")
			return changes[n.id] >= 2
		})
	}

	healed := time.Now()
	c.net.heal()
	enginetest.WaitAll(t, "Ready{5}", enginetest.IsReady(5), minority...)
	for _, n := range minority {
		at, _, _ := n.EnteredAt(otellifecycle.Ready, healed)
		t.Logf("minority %x Ready %v after the heal:%s", n.id, at.Sub(healed).Round(time.Millisecond), n.Timeline(cut))
		n.WantPhases(t, "starting", "bootstrapping", "ready", "failed", "ready")
	}
	for _, n := range majority {
		if d := n.NotReadyAfter(cut, time.Now()); d != 0 {
			t.Errorf("majority %x: not Ready for %v:%s", n.id, d, n.Timeline(cut))
		}
		n.WantStates(t, "starting", "bootstrapping", "ready:5")
		if lead := n.rn.Status().Lead; lead != newLeader {
			t.Errorf("majority %x: leader %x after the heal, want %x still (PreVote)", n.id, lead, newLeader)
		}
		if got := instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes"); got != changes[n.id] {
			t.Errorf("majority %x: leader.changes %d after the heal, want %d", n.id, got, changes[n.id])
		}
	}
}

// Without PreVote, a follower cut off for a while campaigns in ever higher
// terms, and when it comes back it forces an election on the others: the
// leader steps down (a leader change it counts) and a new term begins,
// but it is not an outage, so no one leaves Ready.
func TestWithoutPreVoteAReturningNodeForcesAnElection(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3), nodeOptions{noPreVote: true})
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	f := c.followers(l)[0]
	var changes int64
	c.eventually("the leader counting itself", func() bool {
		changes = instruments.Point(t, l.Reader, "cluster.lifecycle.raft.leader.changes")
		return changes >= 1
	})
	term := statusTerm(l.rn.Status())

	cut := time.Now()
	c.net.isolate(f.id)
	c.eventually("the cut-off follower in a higher term", func() bool {
		return statusTerm(f.rn.Status()) > term+2
	})
	c.net.heal()
	c.eventually("the old leader counting a forced election", func() bool {
		return instruments.Point(t, l.Reader, "cluster.lifecycle.raft.leader.changes") > changes
	})
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	for _, n := range nodes {
		if got := statusTerm(n.rn.Status()); got <= term+2 {
			t.Errorf("%x: term %d after the return, want an election past %d", n.id, got, term+2)
		}
		if n != f {
			if d := n.NotReadyAfter(cut, time.Now()); d != 0 {
				t.Errorf("%x: not Ready for %v:%s", n.id, d, n.Timeline(cut))
			}
		}
	}
}

// Without CheckQuorum, etcd Raft keeps a leader that is cut off from every
// follower a leader for good: its Status says so, so its Observer shows
// Ready while the others have elected another leader. This is why the
// package documentation asks for CheckQuorum; with it, the same leader
// steps down and is Failed after the leaderless timeout
// (TestPartitionedMinorityFailsAndTheMajorityStaysReady).
func TestIsolatedLeaderStaysReadyWithoutCheckQuorum(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3), nodeOptions{noCheckQuorum: true})
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	cut := time.Now()
	c.net.isolate(l.id)
	for _, n := range c.followers(l) {
		n.waitLeaderOtherThan(t, l.id)
	}
	time.Sleep(leaderless + 3*poll)
	if got := l.Tracker.Current(); got != otellifecycle.ReadyState(3) {
		t.Errorf("isolated leader without CheckQuorum: %v, want Ready{3} (it still leads, in its own view)", got)
	}
	t.Logf("isolated leader %x, %v after the cut: %v; its view: %v", l.id, time.Since(cut).Round(time.Millisecond),
		l.Tracker.Current(), l.rn.Status().RaftState)
}

// A node removed from the configuration is Failed{"removed from the
// configuration"}, running or stopped; the others count one voter less.
func TestRemovedNodeIsFailed(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	f := c.followers(l)[0]

	c.change(confChange(pb.ConfChangeRemoveNode, f.id), f.id, "out")
	f.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	f.WantStates(t, "starting", "bootstrapping", "ready:3", "failed:removed from the configuration")
	enginetest.WaitAll(t, "Ready{2}", enginetest.IsReady(2), c.followers(f)...)
	f.kill(c.net)
	time.Sleep(3 * poll)
	f.WantStates(t, "starting", "bootstrapping", "ready:3", "failed:removed from the configuration")
}

// Leave, then a removal, then Shutdown is the planned departure: Draining
// for good, then Stopping, never Failed. On the leader, Leave hands
// leadership over first.
func TestLeaveThenRemovalIsDrainingThenStopping(t *testing.T) {
	for _, who := range []string{"follower", "leader"} {
		t.Run(who, func(t *testing.T) {
			c := newCluster(t)
			nodes := c.bootstrap(ids(3))
			enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
			n := c.leader()
			if who == "follower" {
				n = c.followers(n)[0]
			}
			others := c.followers(n)
			remove := func(context.Context) error {
				c.change(confChange(pb.ConfChangeRemoveNode, n.id), n.id, "out")
				return nil
			}
			if err := n.obs.Leave(t.Context(), remove); err != nil {
				t.Fatal(err)
			}
			if who == "leader" {
				if st := n.rn.Status(); st.Lead == n.id {
					t.Errorf("the leader leads after Leave")
				}
			}
			enginetest.WaitAll(t, "Ready{2}", enginetest.IsReady(2), others...)
			time.Sleep(3 * poll)
			n.WantStates(t, "starting", "bootstrapping", "ready:3", "draining")
			n.shutdown(t, c.net)
			n.WantStates(t, "starting", "bootstrapping", "ready:3", "draining", "stopping")
		})
	}
}

// A fault the service declares holds through what Raft does (a leader
// change here) until Recover, which shows Raft's phase again at once.
func TestServiceFailHoldsUntilRecover(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	f := c.followers(l)[0]

	f.obs.Fail(t.Context(), "disk full")
	if got := f.Tracker.Current(); got != otellifecycle.FailedState("disk full") {
		t.Fatalf("after Fail: %v", got)
	}
	l.rn.TransferLeadership(t.Context(), l.id, f.id)
	f.waitLeaderOtherThan(t, l.id)
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

// A lossy network (a fifth of all messages dropped) neither keeps a
// cluster from forming nor makes a node leave Ready when the leader stops.
func TestLossyNetworkFailsNoNode(t *testing.T) {
	c := newCluster(t)
	c.net.setLoss(0.2)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
	l := c.leader()
	stopped := time.Now()
	l.kill(c.net)
	for _, n := range c.followers(l) {
		knew := n.waitLeaderOtherThan(t, l.id)
		t.Logf("%x knew the new leader %v after the leader stopped, on a lossy network", n.id, knew.Sub(stopped).Round(time.Millisecond))
	}
	time.Sleep(3 * poll)
	for _, n := range c.followers(l) {
		if d := n.NotReadyAfter(stopped, time.Now()); d != 0 {
			t.Errorf("%x: not Ready for %v:%s", n.id, d, n.Timeline(stopped))
		}
		n.WantStates(t, "starting", "bootstrapping", "ready:3")
	}
	t.Logf("%d messages dropped", c.net.dropped.Load())
}
