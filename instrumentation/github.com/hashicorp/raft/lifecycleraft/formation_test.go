package lifecycleraft_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A fresh three-node cluster: the node that bootstraps is Bootstrapping
// until it leads, the two that join are Joining{0} until they are in the
// configuration, and all end Ready{3}.
func TestBootstrapOneJoinTwoEndsReadyThree(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	for _, n := range []*node{n1, n2, n3} {
		n.WantStates(t, "starting") // a fresh Raft: no state, no leader
	}
	c.form(n1, n2, n3)

	n1.WantPhases(t, "starting", "bootstrapping", "ready")
	if got := n1.States(t); len(got) < 3 || got[2] != "ready:1" {
		t.Errorf("n1: first Ready %q, want ready:1 (the cluster was itself)", got[2])
	}
	for _, n := range []*node{n2, n3} {
		n.WantPhases(t, "starting", "joining", "ready")
		if got := n.States(t); len(got) < 2 || got[1] != "joining:0" {
			t.Errorf("%s: %q, want joining:0 (attempts count from 0)", n.id, got[1])
		}
	}
	for _, n := range []*node{n1, n2, n3} {
		n.WantGauge(t, otellifecycle.Ready)
		t.Logf("%s:%s", n.id, n.Timeline(c.start))
	}
}

// A joiner whose first two requests reach a follower (which refuses with
// raft.ErrNotLeader, as a seed that is not the leader does) shows each
// attempt, counted from 0, then Ready once the third reaches the leader.
func TestJoinShowsEachAttemptFromZero(t *testing.T) {
	c := newCluster(t, tcp)
	n1, n2 := c.add("n1"), c.add("n2")
	c.form(n1, n2)
	n3 := c.add("n3", nodeOptions{observer: []lifecycleraft.Option{
		lifecycleraft.WithJoinBackoff(0, 20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond),
	}})

	attempts := 0
	var refusals []error
	join := func(context.Context) error {
		attempts++
		l := c.leader()
		target := l
		if attempts <= 2 {
			target = c.followers(l)[0]
		}
		err := target.r.AddVoter(n3.id, n3.addr, 0, time.Second).Error()
		if err != nil {
			refusals = append(refusals, err)
		}
		return err
	}
	if err := n3.obs.Join(t.Context(), join); err != nil {
		t.Fatal(err)
	}
	n3.WaitState(t, "Ready{3}", enginetest.IsReady(3))

	if len(refusals) != 2 || !errors.Is(refusals[0], raft.ErrNotLeader) {
		t.Fatalf("refusals %v, want two raft.ErrNotLeader", refusals)
	}
	n3.WantStates(t, "starting", "joining:0", "joining:1", "joining:2", "ready:3")
	n3.WantGauge(t, otellifecycle.Ready)
	for _, n := range []*node{n1, n2} {
		n.WaitState(t, "Ready{3}", enginetest.IsReady(3)) // followers learn the new size by polling
		n.WantGauge(t, otellifecycle.Ready)
	}
	t.Logf("n3:%s", n3.Timeline(c.start))
}

// A join that never succeeds ends, after its schedule, in Failed with the
// last error, and Join returns it.
func TestJoinThatNeverSucceedsFails(t *testing.T) {
	c := newCluster(t, inmem)
	n := c.add("lonely", nodeOptions{observer: []lifecycleraft.Option{
		lifecycleraft.WithJoinBackoff(0, 10*time.Millisecond, 10*time.Millisecond),
	}})
	seedDown := errors.New("dial seed: connection refused")
	err := n.obs.Join(t.Context(), func(context.Context) error { return seedDown })
	if !errors.Is(err, seedDown) {
		t.Fatalf("Join: %v, want %v", err, seedDown)
	}
	n.WantStates(t, "starting", "joining:0", "joining:1", "joining:2",
		"failed:join failed after 3 attempts: dial seed: connection refused")
	n.WantGauge(t, otellifecycle.Failed)
}

// A Join cancelled by its context returns the context's error and drops
// the Joining intent: the node shows what Raft says again.
func TestJoinCancelledReturnsToWhatRaftSays(t *testing.T) {
	c := newCluster(t, inmem)
	n := c.add("n1", nodeOptions{observer: []lifecycleraft.Option{
		lifecycleraft.WithJoinBackoff(0, time.Hour),
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := n.obs.Join(ctx, func(context.Context) error { return errors.New("not yet") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join: %v, want context.DeadlineExceeded", err)
	}
	n.WantStates(t, "starting", "joining:0", "starting")
}

// A node that already has Raft state (here: it bootstrapped, and its
// process restarted on the same stores) is Restarting until it sees a
// leader; bootstrapping it again is refused by Raft and changes nothing.
func TestBootstrapOnExistingStateIsRestarting(t *testing.T) {
	c := newCluster(t, inmem)
	n := c.add("n1")
	if err := n.obs.Bootstrap(t.Context(), raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n.id, Address: n.addr},
	}}); err != nil {
		t.Fatal(err)
	}
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	if err := n.obs.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n.WantStates(t, "starting", "bootstrapping", "ready:1", "stopping")

	again := c.restart(n)
	again.WantStates(t, "starting", "restarting")
	err := again.obs.Bootstrap(t.Context(), raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n.id, Address: n.addr},
	}})
	if !errors.Is(err, raft.ErrCantBootstrap) {
		t.Fatalf("Bootstrap on existing state: %v, want raft.ErrCantBootstrap", err)
	}
	again.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	// Bootstrapping may show for the instant Raft takes to refuse; what
	// matters is that the node restarts into Ready.
	if got := again.Phases(t); len(got) < 3 || got[1] != "restarting" || got[len(got)-1] != "ready" {
		t.Errorf("phases %q, want restarting … ready", got)
	}
}

// A service may bootstrap through Raft itself: the Observer then sees a
// configuration with the node in it and no leader on a fresh node, and
// shows Bootstrapping, at its next poll, until the node leads.
func TestBootstrapThroughRaftIsSeen(t *testing.T) {
	c := newCluster(t, inmem)
	// Raft timeouts longer than the poll, so the poll sees the gap.
	n := c.add("n1")
	if err := n.r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n.id, Address: n.addr},
		{Suffrage: raft.Voter, ID: "absent", Address: "absent"},
	}}).Error(); err != nil {
		t.Fatal(err)
	}
	// With a voter absent there is no quorum, so no leader: the node stays
	// Bootstrapping however long it takes (the leaderless timeout runs
	// only after a first leader).
	n.WaitState(t, "Bootstrapping", func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Bootstrapping })
	time.Sleep(leaderless + 2*poll)
	n.WantStates(t, "starting", "bootstrapping")
	n.WantGauge(t, otellifecycle.Bootstrapping)
}

// A second Bootstrap of a node that is still forming its cluster (here it
// waits for a voter that never comes) is refused by Raft
// (raft.ErrCantBootstrap, which Raft says can be ignored) and changes
// nothing: the node stays Bootstrapping, even before a poll has read the
// configuration the first call made.
func TestSecondBootstrapWhileFormingChangesNothing(t *testing.T) {
	c := newCluster(t, inmem)
	n := c.add("n1", nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithPollInterval(time.Second)}})
	cfg := raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n.id, Address: n.addr},
		{Suffrage: raft.Voter, ID: "absent", Address: "absent"},
	}}
	if err := n.obs.Bootstrap(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := n.obs.Bootstrap(t.Context(), cfg); !errors.Is(err, raft.ErrCantBootstrap) {
		t.Fatalf("second Bootstrap: %v, want raft.ErrCantBootstrap", err)
	}
	n.WantStates(t, "starting", "bootstrapping")
	time.Sleep(1500 * time.Millisecond) // a poll reads the configuration
	n.WantStates(t, "starting", "bootstrapping")
	n.WantGauge(t, otellifecycle.Bootstrapping)
}
