package lifecycleetcdraft_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A new cluster, each node started by raft.StartNode with every member as
// a peer, goes starting → bootstrapping → ready (N nodes) on every node:
// with Observer.Ready in the Ready loop (3 nodes) and on polls alone (5
// nodes).
func TestBootstrapIsBootstrappingThenReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		opts nodeOptions
	}{
		{"3 nodes, Ready hook", 3, nodeOptions{}},
		{"5 nodes, polls only", 5, nodeOptions{noHook: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			nodes := c.bootstrap(ids(tc.size), tc.opts)
			enginetest.WaitAll(t, fmt.Sprintf("Ready{%d}", tc.size), enginetest.IsReady(tc.size), nodes...)
			for _, n := range nodes {
				n.WantStates(t, "starting", "bootstrapping", fmt.Sprintf("ready:%d", tc.size))
				n.WantGauge(t, otellifecycle.Ready)
				t.Logf("%x:%s", n.id, n.Timeline(c.start))
			}
		})
	}
}

// A node restarted on its storage is Restarting until it knows a leader,
// then Ready: one node after a crash, and a whole cluster after a stop.
func TestRestartOnExistingStorageIsRestartingThenReady(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)

	// The leader crashes and comes back on its storage.
	l := c.leader()
	l.kill(c.net)
	l.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	l.WantStates(t, "starting", "bootstrapping", "ready:3", "failed:raft node stopped")
	back := c.restart(l)
	back.WaitState(t, "Ready{3}", enginetest.IsReady(3))
	back.WantStates(t, "starting", "restarting", "ready:3")
	t.Logf("leader %x restarted:%s", back.id, back.Timeline(time.Time{}))

	// The whole cluster stops through its Observers and starts again.
	var stopped []*node
	for _, n := range c.live() {
		n.shutdown(t, c.net)
		if got := n.Tracker.Current(); got.Phase != otellifecycle.Stopping {
			t.Errorf("%x: %v after Shutdown, want Stopping", n.id, got)
		}
		stopped = append(stopped, n)
	}
	var again []*node
	for _, n := range stopped {
		again = append(again, c.restart(n))
	}
	for _, n := range again {
		n.WaitState(t, "Ready{3}", enginetest.IsReady(3))
		n.WantStates(t, "starting", "restarting", "ready:3")
		t.Logf("%x restarted with the cluster:%s", n.id, n.Timeline(time.Time{}))
	}
}

// A node started on empty storage (raft.RestartNode, as etcd starts a
// member that joins) is Joining{0} at once, Joining{i} for Join's attempt
// i, and Ready once a conf change made it a voter and it knows the leader;
// the others count it.
func TestNodeJoiningThroughAConfChange(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)

	n4 := c.fresh(4, nodeOptions{observer: []lifecycleetcdraft.Option{
		lifecycleetcdraft.WithJoinBackoff(0, 50*time.Millisecond, 50*time.Millisecond),
	}})
	if got := n4.Tracker.Current(); got != otellifecycle.JoiningState(0) {
		t.Fatalf("a fresh node off the configuration is %v, want Joining{0}", got)
	}
	attempts := 0
	addVoter := c.changeVia(confChange(pb.ConfChangeAddNode, 4), 4, "voter")
	join := func(ctx context.Context) error {
		if attempts++; attempts == 1 {
			return errors.New("seed unreachable")
		}
		return addVoter(ctx)
	}
	joined := time.Now()
	if err := n4.obs.Join(t.Context(), join); err != nil {
		t.Fatal(err)
	}
	n4.WaitState(t, "Ready{4}", enginetest.IsReady(4))
	n4.WantStates(t, "starting", "joining:0", "joining:1", "ready:4")
	enginetest.WaitAll(t, "Ready{4}", enginetest.IsReady(4), nodes...)
	t.Logf("4 Ready %v after Join began:%s", time.Since(joined).Round(time.Millisecond), n4.Timeline(time.Time{}))
}

// A learner is Joining, whatever it knows: it is counted as a nonvoter and
// not in anyone's Ready{n}; promoted to voter, it is Ready and counted.
func TestLearnerAddedThenPromoted(t *testing.T) {
	c := newCluster(t)
	nodes := c.bootstrap(ids(3))
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)

	n4 := c.fresh(4)
	if err := n4.obs.Join(t.Context(), c.changeVia(confChange(pb.ConfChangeAddLearnerNode, 4), 4, "learner")); err != nil {
		t.Fatal(err)
	}
	// The learner catches up: it knows the leader and itself as a learner.
	c.eventually("4 a learner with a leader", func() bool {
		return inConfig(n4, 4, "learner") && n4.rn.Status().Lead != 0
	})
	time.Sleep(3 * poll) // polls and signals would have moved it by now
	if got := n4.Tracker.Current(); got != otellifecycle.JoiningState(0) {
		t.Fatalf("a learner with a leader is %v, want Joining{0}", got)
	}
	l := c.leader()
	c.eventually("the leader counting a nonvoter", func() bool {
		return instruments.Point(t, l.Reader, "cluster.lifecycle.raft.servers", "nonvoter") == 1
	})
	for _, n := range nodes {
		if got := n.Tracker.Current(); got != otellifecycle.ReadyState(3) {
			t.Errorf("%x: %v with a learner added, want Ready{3}", n.id, got)
		}
	}

	c.change(confChange(pb.ConfChangeAddNode, 4), 4, "voter")
	n4.WaitState(t, "Ready{4}", enginetest.IsReady(4))
	n4.WantStates(t, "starting", "joining:0", "ready:4")
	enginetest.WaitAll(t, "Ready{4}", enginetest.IsReady(4), nodes...)
	c.eventually("the leader counting no nonvoter", func() bool {
		return instruments.Point(t, l.Reader, "cluster.lifecycle.raft.servers", "nonvoter") == 0 && instruments.Point(t, l.Reader, "cluster.lifecycle.raft.servers", "voter") == 4
	})
}
