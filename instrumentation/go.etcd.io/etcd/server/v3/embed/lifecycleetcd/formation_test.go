package lifecycleetcd_test

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A new cluster of three, started with --initial-cluster-state new, goes
// starting → bootstrapping → ready (3 nodes) on every member.
func TestNewClusterIsBootstrappingThenReady(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
	for _, m := range ms {
		m.WantStates(t, "starting", "bootstrapping", "ready:3")
		m.WantGauge(t, otellifecycle.Ready)
		t.Logf("%s: StartEtcd took %v, then:%s", m.name, m.startTook.Round(time.Millisecond), m.Timeline(time.Time{}))
	}
}

// A member restarted on its data directory is Restarting until it serves
// with a leader, then Ready: one member after a crash, and a whole cluster
// after a stop.
func TestRestartOnItsDataIsRestartingThenReady(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)

	f := c.others(c.leader())[0]
	f.crash()
	f.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	f.WantStates(t, "starting", "bootstrapping", "ready:3", "failed:etcd server stopped")
	back := c.restart(f)
	back.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	back.WantStates(t, "starting", "restarting", "ready:3")
	t.Logf("%s restarted: StartEtcd took %v, then:%s", back.name, back.startTook.Round(time.Millisecond), back.Timeline(time.Time{}))

	var stopped []*member
	for _, m := range c.live() {
		if err := m.shutdown(); err != nil {
			t.Fatal(err)
		}
		if got := m.Tracker.Current(); got.Phase != otellifecycle.Stopping {
			t.Errorf("%s: %v after Shutdown, want Stopping", m.name, got)
		}
		stopped = append(stopped, m)
	}
	var again []*member
	for _, m := range stopped {
		again = append(again, c.restart(m))
	}
	for _, m := range again {
		m.WaitState(t, "Ready{3}", enginetest.IsReady(3))
		m.WantStates(t, "starting", "restarting", "ready:3")
		t.Logf("%s restarted with the cluster: StartEtcd took %v, then:%s", m.name, m.startTook.Round(time.Millisecond), m.Timeline(time.Time{}))
	}
}

// addMember adds a member for m through the leader, as etcdctl member add
// (--learner when learner) does, and returns its ID.
func (c *cluster) addMember(m *member, learner bool) types.ID {
	c.t.Helper()
	now := time.Now()
	urls := types.URLs{m.peerURL}
	mm := membership.NewMember("", urls, "", &now)
	if learner {
		mm = membership.NewMemberAsLearner("", urls, "", &now)
	}
	var id types.ID
	c.eventually("the member added", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
		defer cancel()
		members, err := l.e.Server.AddMember(ctx, *mm)
		for _, x := range members {
			if x.ID == mm.ID {
				id = x.ID
			}
		}
		return err == nil
	})
	// A member that starts into the cluster asks the running members for
	// the membership and refuses to start ("member count is unequal")
	// when the one that answers has not applied the addition yet: wait
	// until every running member has.
	c.eventually("every running member knows the added member", func() bool {
		for _, r := range c.live() {
			if r.e.Server.Cluster().Member(id) == nil {
				return false
			}
		}
		return true
	})
	return id
}

// join starts m, already added, into the cluster of members, as etcd's
// --initial-cluster-state existing does.
func (c *cluster) join(m *member, members ...*member) {
	c.t.Helper()
	c.run(m, initialCluster(append(members, m)...), embed.ClusterStateFlagExisting)
}

// A member added as a voter and started into the cluster is Joining until
// it serves with a leader, then Ready; the others count it.
func TestMemberJoiningTheClusterIsJoiningThenReady(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)

	m4 := c.newMember("m4")
	c.addMember(m4, false)
	c.join(m4, ms...)
	m4.WaitState(t, "Ready{4}", enginetest.IsReady(4))
	m4.WantStates(t, "starting", "joining:0", "ready:4")
	enginetest.WaitAll(t, "Ready{4}", enginetest.IsReady(4), ms...)
	t.Logf("m4: StartEtcd took %v, then:%s", m4.startTook.Round(time.Millisecond), m4.Timeline(time.Time{}))
}

// A learner is Joining, whatever it knows: the others count it as a
// nonvoter and not in their Ready{n}. Promoted, it is Ready and counted.
func TestLearnerAddedThenPromoted(t *testing.T) {
	c := newCluster(t)
	ms := c.bootstrap(names(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)

	m4 := c.newMember("m4")
	id := c.addMember(m4, true)
	c.join(m4, ms...)
	c.eventually("the learner serving with a leader", func() bool {
		select {
		case <-m4.e.Server.ReadyNotify():
			return m4.e.Server.Leader() != 0
		default:
			return false
		}
	})
	time.Sleep(3 * poll) // polls would have moved it by now
	if got := m4.Tracker.Current(); got != otellifecycle.JoiningState(0) {
		t.Fatalf("a learner serving with a leader is %v, want Joining{0}", got)
	}
	l := c.leader()
	c.eventually("the leader counting a nonvoter", func() bool {
		return instruments.Point(t, l.Reader, "cluster.lifecycle.raft.servers", "nonvoter") == 1
	})
	for _, m := range ms {
		if got := m.Tracker.Current(); got != otellifecycle.ReadyState(3) {
			t.Errorf("%s: %v with a learner added, want Ready{3}", m.name, got)
		}
	}

	promoted := time.Now()
	c.eventually("the learner promoted", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := l.e.Server.PromoteMember(ctx, uint64(id)) // refused until the learner caught up
		return err == nil
	})
	m4.WaitState(t, "Ready{4}", enginetest.IsReady(4))
	m4.WantStates(t, "starting", "joining:0", "ready:4")
	enginetest.WaitAll(t, "Ready{4}", enginetest.IsReady(4), ms...)
	at, _, _ := m4.EnteredAt(otellifecycle.Ready, promoted)
	t.Logf("m4 Ready %v after the promotion began:%s", at.Sub(promoted).Round(time.Millisecond), m4.Timeline(time.Time{}))
}
