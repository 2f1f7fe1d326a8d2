package lifecycleraft_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Timing of the test clusters: Raft's timeouts are short, so elections take
// tens of milliseconds; the leaderless timeout is long enough that no
// election under -race on a busy machine reaches it, short enough to test.
const (
	heartbeat  = 100 * time.Millisecond
	leaderless = time.Second
	poll       = 50 * time.Millisecond
	// waitFor bounds every wait of the tests.
	waitFor = 15 * time.Second
)

type transportKind int

const (
	tcp   transportKind = iota // raft.NewTCPTransport on 127.0.0.1:0
	inmem                      // raft.NewInmemTransport: partitions on demand
)

// stores are a node's Raft storage; a restarted node gets its old ones,
// as a process restarting on its data directory would.
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
}

// node is one Raft server with its own tracker and Observer, as a process
// of a service would have them.
type node struct {
	enginetest.Node // its tracker and metrics, named by its ID
	id              raft.ServerID
	addr            raft.ServerAddress
	r               *raft.Raft
	trans           raft.Transport
	stores          stores
	obs             *lifecycleraft.Observer
	// formedBy is the phase form gave the node on its way to Ready:
	// bootstrapping for the first, joining for the others.
	formedBy string
}

// cluster starts nodes that can reach each other and cleans every one up.
type cluster struct {
	t     *testing.T
	kind  transportKind
	start time.Time
	mu    sync.Mutex
	nodes []*node // every node ever started, dead ones too
}

func newCluster(t *testing.T, kind transportKind) *cluster {
	return &cluster{t: t, kind: kind, start: time.Now()}
}

// options of one node's tracker and Observer, beyond the cluster's.
type nodeOptions struct {
	tracker  []otellifecycle.Option
	observer []lifecycleraft.Option
}

func raftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = heartbeat
	c.ElectionTimeout = heartbeat
	c.LeaderLeaseTimeout = heartbeat / 2
	c.CommitTimeout = 5 * time.Millisecond
	c.LogOutput = io.Discard
	return c
}

// memStores are fresh in-memory stores.
func memStores() stores {
	s := raft.NewInmemStore()
	return stores{logs: s, stable: s, snaps: raft.NewInmemSnapshotStore()}
}

// add starts a fresh node named id.
func (c *cluster) add(id string, opts ...nodeOptions) *node {
	return c.startNode(raft.ServerID(id), "", memStores(), opts...)
}

// restart starts a node again on old's storage and address, as a new
// process would: a new tracker, a new Observer.
func (c *cluster) restart(old *node, opts ...nodeOptions) *node {
	c.t.Helper()
	if old.r.State() != raft.Shutdown {
		c.t.Fatalf("%s: restart of a running node", old.id)
	}
	return c.startNode(old.id, old.addr, old.stores, opts...)
}

func (c *cluster) startNode(id raft.ServerID, addr raft.ServerAddress, st stores, opts ...nodeOptions) *node {
	t := c.t
	t.Helper()
	var o nodeOptions
	for _, x := range opts {
		o.tracker = append(o.tracker, x.tracker...)
		o.observer = append(o.observer, x.observer...)
	}
	tn := enginetest.Node{Name: string(id), Attrs: []attribute.KeyValue{attribute.String("node.id", string(id))}, WaitFor: waitFor}
	if err := tn.Open(o.tracker...); err != nil {
		t.Fatal(err)
	}

	var trans raft.Transport
	switch c.kind {
	case tcp:
		bind := string(addr)
		if bind == "" {
			bind = "127.0.0.1:0"
		}
		nt, err := raft.NewTCPTransport(bind, nil, 3, time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		trans = nt
	case inmem:
		a, it := raft.NewInmemTransport(addr)
		c.mu.Lock()
		for _, other := range c.nodes {
			if ot, ok := other.trans.(*raft.InmemTransport); ok && other.r.State() != raft.Shutdown {
				it.Connect(other.addr, ot)
				ot.Connect(a, it)
			}
		}
		c.mu.Unlock()
		trans = it
	}

	r, err := raft.NewRaft(raftConfig(id), fsm{}, st.logs, st.stable, st.snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Node: tn, id: id, addr: trans.LocalAddr(), r: r, trans: trans, stores: st}
	n.Started = time.Now()
	// The Raft instruments go to the tracker's provider, with its node.id:
	// the Observer inherits both.
	n.obs, err = lifecycleraft.Observe(r, n.Tracker, id, append([]lifecycleraft.Option{
		lifecycleraft.WithLeaderlessTimeout(leaderless),
		lifecycleraft.WithPollInterval(poll),
	}, o.observer...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.obs.Close(); err != nil {
			t.Errorf("%s: Observer.Close: %v", id, err)
		}
		n.kill()
		n.Close(t)
	})
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// kill shuts Raft down the way a crash or an operator would, not through
// the Observer, and closes every connection of its transport.
func (n *node) kill() {
	_ = n.r.Shutdown().Error()
	if nt, ok := n.trans.(*raft.NetworkTransport); ok {
		nt.CloseStreams()
		_ = nt.Close()
	}
	if c, ok := n.trans.(raft.WithClose); ok {
		_ = c.Close()
	}
}

// live returns the nodes whose Raft runs.
func (c *cluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n.r.State() != raft.Shutdown {
			out = append(out, n)
		}
	}
	return out
}

// leader waits for one live node to be the leader and returns it.
func (c *cluster) leader() *node {
	c.t.Helper()
	var l *node
	c.eventually("a leader", func() bool {
		l = nil
		for _, n := range c.live() {
			if n.r.State() == raft.Leader {
				l = n
			}
		}
		return l != nil
	})
	return l
}

// followers returns the live nodes that are not l.
func (c *cluster) followers(l *node) []*node {
	return slices.DeleteFunc(c.live(), func(n *node) bool { return n == l })
}

// eventually polls cond until it holds, failing the test after waitFor.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	testsupport.Eventually(c.t, what, waitFor, cond)
}

// addVoterVia returns a join function that asks target's Raft to add n, as
// a service's join RPC to a seed would.
func addVoterVia(target func() *node, n *node) func(context.Context) error {
	return func(context.Context) error {
		t := target()
		if t == nil {
			return errors.New("no seed")
		}
		return t.r.AddVoter(n.id, n.addr, 0, time.Second).Error()
	}
}

// form makes a cluster of nodes: the first bootstraps alone, the others
// join it through the Observer's Join, all at once, and every one is
// Ready{len(nodes)} at the end.
func (c *cluster) form(nodes ...*node) {
	c.t.Helper()
	ctx := c.t.Context()
	first := nodes[0]
	first.formedBy = "bootstrapping"
	for _, n := range nodes[1:] {
		n.formedBy = "joining"
	}
	if err := first.obs.Bootstrap(ctx, raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: first.id, Address: first.addr},
	}}); err != nil {
		c.t.Fatal(err)
	}
	first.WaitState(c.t, "Ready", otellifecycle.State.IsReady)
	errs := make(chan error, len(nodes))
	for _, n := range nodes[1:] {
		go func() { errs <- n.obs.Join(ctx, addVoterVia(c.leaderNow, n)) }()
	}
	for range nodes[1:] {
		if err := <-errs; err != nil {
			c.t.Fatal(err)
		}
	}
	for _, n := range nodes {
		n.WaitState(c.t, fmt.Sprintf("Ready{%d}", len(nodes)), enginetest.IsReady(len(nodes)))
	}
}

// leaderNow returns the live leader, or nil: a join target that may be
// missing, as a seed list's may.
func (c *cluster) leaderNow() *node {
	for _, n := range c.live() {
		if n.r.State() == raft.Leader {
			return n
		}
	}
	return nil
}

// waitLeaderOtherThan waits until n's Raft knows a leader that is not
// old, and returns when it did.
func (n *node) waitLeaderOtherThan(t testing.TB, old raft.ServerID) time.Time {
	t.Helper()
	testsupport.Eventually(t, string(n.id)+": a new leader", waitFor, func() bool {
		_, id := n.r.LeaderWithID()
		return id != "" && id != old
	})
	return time.Now()
}

// fsm is a state machine that keeps nothing: the tests are about
// membership, not data.
type fsm struct{}

func (fsm) Apply(*raft.Log) any                 { return nil }
func (fsm) Snapshot() (raft.FSMSnapshot, error) { return snapshot{}, nil }
func (fsm) Restore(rc io.ReadCloser) error      { return rc.Close() }

type snapshot struct{}

func (snapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (snapshot) Release()                             {}
