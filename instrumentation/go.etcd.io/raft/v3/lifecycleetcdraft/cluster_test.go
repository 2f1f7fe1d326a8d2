package lifecycleetcdraft_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Timing of the test clusters. A tick is 10 ms, so an election timeout is
// 100 ms (randomized by raft between 100 and 200 ms) and a heartbeat
// 10 ms; the leaderless timeout is long enough that no election under
// -race on a busy machine reaches it, short enough to test.
const (
	tick          = 10 * time.Millisecond
	electionTicks = 10
	leaderless    = time.Second
	poll          = 50 * time.Millisecond
	// waitFor bounds every wait of the tests.
	waitFor = 15 * time.Second
)

// network carries the nodes' messages in process. It can cut links (a
// partition) and drop a share of all messages (a lossy network); a full
// inbox drops too, as a congested network would. Nothing in it waits.
type network struct {
	mu      sync.Mutex
	inboxes map[uint64]chan message
	cut     map[[2]uint64]bool // from → to
	loss    float64
	rng     *rand.Rand
	dropped atomic.Uint64
}

func newNetwork() *network {
	return &network{
		inboxes: map[uint64]chan message{},
		cut:     map[[2]uint64]bool{},
		rng:     rand.New(rand.NewPCG(1, 2)),
	}
}

// send delivers msgs to their recipients' inboxes, unless cut or lost.
func (nw *network) send(msgs []message) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for _, m := range msgs {
		from, to := route(m)
		in, ok := nw.inboxes[to]
		if !ok || nw.cut[[2]uint64{from, to}] || (nw.loss > 0 && nw.rng.Float64() < nw.loss) {
			nw.dropped.Add(1)
			continue
		}
		select {
		case in <- m:
		default:
			nw.dropped.Add(1)
		}
	}
}

// partition cuts every link between nodes of different groups; nodes in
// no group keep their links.
func (nw *network) partition(groups ...[]uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					nw.cut[[2]uint64{a, b}] = true
				}
			}
		}
	}
}

// isolate cuts every link of each of ids, to every other node.
func (nw *network) isolate(ids ...uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for _, a := range ids {
		for b := uint64(1); b <= 16; b++ {
			if a != b {
				nw.cut[[2]uint64{a, b}], nw.cut[[2]uint64{b, a}] = true, true
			}
		}
	}
}

// heal restores every link and stops dropping.
func (nw *network) heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	clear(nw.cut)
	nw.loss = 0
}

// setLoss makes the network drop the share p of all messages.
func (nw *network) setLoss(p float64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.loss = p
}

// node is one etcd Raft node with its own storage, tracker and Observer,
// as a process of a service would have them, and the service's loops: a
// ticker, the Ready loop and the loop that steps received messages.
type node struct {
	enginetest.Node // its tracker and metrics, named by its ID in hexadecimal
	id              uint64
	storage         *raft.MemoryStorage
	rn              raft.Node
	obs             *lifecycleetcdraft.Observer
	hook            bool // the Ready loop calls obs.Ready

	stop     chan struct{}
	stopOnce sync.Once
	loops    sync.WaitGroup
	// readyMax is the longest obs.Ready call, in nanoseconds.
	readyMax atomic.Int64
}

// cluster starts nodes on one network and cleans every one up.
type cluster struct {
	t     *testing.T
	net   *network
	start time.Time
	mu    sync.Mutex
	nodes []*node // every node ever started, stopped ones too
}

func newCluster(t *testing.T) *cluster {
	return &cluster{t: t, net: newNetwork(), start: time.Now()}
}

// nodeOptions are one node's options beyond the cluster's.
type nodeOptions struct {
	tracker  []otellifecycle.Option
	observer []lifecycleetcdraft.Option
	// noHook leaves obs.Ready out of the Ready loop: the Observer polls.
	noHook bool
	// noCheckQuorum, noPreVote turn off what etcd turns on.
	noCheckQuorum, noPreVote bool
}

func merge(opts []nodeOptions) nodeOptions {
	var o nodeOptions
	for _, x := range opts {
		o.tracker = append(o.tracker, x.tracker...)
		o.observer = append(o.observer, x.observer...)
		o.noHook = o.noHook || x.noHook
		o.noCheckQuorum = o.noCheckQuorum || x.noCheckQuorum
		o.noPreVote = o.noPreVote || x.noPreVote
	}
	return o
}

// discard is raft's logger, silenced.
var discard = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

func raftConfig(id uint64, s raft.Storage, o nodeOptions) *raft.Config {
	return &raft.Config{
		ID:                id,
		ElectionTick:      electionTicks,
		HeartbeatTick:     1,
		Storage:           s,
		MaxSizePerMsg:     1 << 20,
		MaxInflightMsgs:   256,
		CheckQuorum:       !o.noCheckQuorum,
		PreVote:           !o.noPreVote,
		StepDownOnRemoval: true,
		Logger:            discard,
	}
}

func ids(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// bootstrap starts a new cluster of the given nodes with raft.StartNode,
// each listing all of them as peers, as etcd's initial cluster does.
func (c *cluster) bootstrap(members []uint64, opts ...nodeOptions) []*node {
	c.t.Helper()
	var peers []raft.Peer
	for _, id := range members {
		peers = append(peers, raft.Peer{ID: id})
	}
	var out []*node
	for _, id := range members {
		s := raft.NewMemoryStorage()
		out = append(out, c.startNode(id, s, func(cfg *raft.Config) raft.Node { return raft.StartNode(cfg, peers) }, opts...))
	}
	return out
}

// fresh starts a node on empty storage with raft.RestartNode, which is how
// etcd starts a member that joins an existing cluster.
func (c *cluster) fresh(id uint64, opts ...nodeOptions) *node {
	c.t.Helper()
	return c.startNode(id, raft.NewMemoryStorage(), raft.RestartNode, opts...)
}

// restart starts old's node again on its storage, as a new process would:
// a new tracker, a new Observer.
func (c *cluster) restart(old *node, opts ...nodeOptions) *node {
	c.t.Helper()
	if old.rn.Status().ID != raft.None {
		c.t.Fatalf("%x: restart of a running node", old.id)
	}
	return c.startNode(old.id, old.storage, raft.RestartNode, opts...)
}

func (c *cluster) startNode(id uint64, s *raft.MemoryStorage, start func(*raft.Config) raft.Node, opts ...nodeOptions) *node {
	t := c.t
	t.Helper()
	o := merge(opts)
	n := &node{Node: enginetest.Node{
		Name:    fmt.Sprintf("%x", id),
		Attrs:   []attribute.KeyValue{attribute.String("node.id", strconv.FormatUint(id, 10))},
		WaitFor: waitFor,
	}, id: id, storage: s, hook: !o.noHook, stop: make(chan struct{})}
	if err := n.Open(o.tracker...); err != nil {
		t.Fatal(err)
	}
	n.Started = time.Now()
	n.rn = start(raftConfig(id, s, o))
	var err error
	n.obs, err = lifecycleetcdraft.Observe(n.rn, s, n.Tracker, append([]lifecycleetcdraft.Option{
		lifecycleetcdraft.WithLeaderlessTimeout(leaderless),
		lifecycleetcdraft.WithPollInterval(poll),
	}, o.observer...)...)
	if err != nil {
		t.Fatal(err)
	}
	inbox := make(chan message, 1024)
	c.net.mu.Lock()
	c.net.inboxes[id] = inbox
	c.net.mu.Unlock()
	n.loops.Add(2)
	go n.readyLoop(c.net)
	go n.stepLoop(inbox)
	t.Cleanup(func() {
		if err := n.obs.Close(); err != nil {
			t.Errorf("%x: Observer.Close: %v", id, err)
		}
		n.kill(c.net)
		n.Close(t)
	})
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// readyLoop is the service's loop, as etcd's raftexample writes it: tick,
// and for each Ready persist, send, apply the configuration changes, tell
// the Observer, advance.
func (n *node) readyLoop(nw *network) {
	defer n.loops.Done()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-ticker.C:
			n.rn.Tick()
		case rd := <-n.rn.Ready():
			if !raft.IsEmptySnap(rd.Snapshot) {
				_ = n.storage.ApplySnapshot(rd.Snapshot)
			}
			_ = n.storage.Append(rd.Entries)
			if !raft.IsEmptyHardState(rd.HardState) {
				_ = n.storage.SetHardState(rd.HardState)
			}
			nw.send(rd.Messages)
			for _, cc := range confChanges(rd) {
				n.rn.ApplyConfChange(cc)
			}
			if n.hook {
				began := time.Now()
				n.obs.Ready(rd)
				if d := int64(time.Since(began)); d > n.readyMax.Load() {
					n.readyMax.Store(d)
				}
			}
			n.rn.Advance()
		}
	}
}

// stepLoop hands received messages to the node.
func (n *node) stepLoop(inbox <-chan message) {
	defer n.loops.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stop
		cancel()
	}()
	for {
		select {
		case <-n.stop:
			return
		case m := <-inbox:
			_ = deliver(ctx, n.rn, m)
		}
	}
}

// kill stops the node the way a crash or an operator would, not through
// the Observer, and stops the service's loops.
func (n *node) kill(nw *network) {
	n.rn.Stop()
	n.stopOnce.Do(func() { close(n.stop) })
	n.loops.Wait()
	nw.mu.Lock()
	if nw.inboxes[n.id] != nil {
		delete(nw.inboxes, n.id)
	}
	nw.mu.Unlock()
}

// shutdown stops the node through the Observer, then the service's loops.
func (n *node) shutdown(t testing.TB, nw *network) {
	t.Helper()
	if err := n.obs.Shutdown(); err != nil {
		t.Fatalf("%x: Shutdown: %v", n.id, err)
	}
	n.kill(nw)
}

// running says whether the node runs.
func (n *node) running() bool {
	select {
	case <-n.stop:
		return false
	default:
		return true
	}
}

// live returns the running nodes.
func (c *cluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n.running() {
			out = append(out, n)
		}
	}
	return out
}

// leaderNow returns the running node that leads, or nil. With a minority
// partitioned away there may be two nodes that think they lead for a
// moment; the one with the highest term wins.
func (c *cluster) leaderNow() *node {
	var l *node
	var term uint64
	for _, n := range c.live() {
		st := n.rn.Status()
		if st.RaftState == raft.StateLeader && (l == nil || statusTerm(st) > term) {
			l, term = n, statusTerm(st)
		}
	}
	return l
}

// leader waits for a leader among the running nodes and returns it.
func (c *cluster) leader() *node {
	c.t.Helper()
	var l *node
	c.eventually("a leader", func() bool {
		l = c.leaderNow()
		return l != nil
	})
	return l
}

// followers returns the running nodes that are not l.
func (c *cluster) followers(l *node) []*node {
	return slices.DeleteFunc(c.live(), func(n *node) bool { return n == l })
}

// eventually polls cond until it holds, failing the test after waitFor.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	testsupport.Eventually(c.t, what, waitFor, cond)
}

// inConfig says whether id is where kind says in n's configuration:
// "voter", "learner" or "out".
func inConfig(n *node, id uint64, kind string) bool {
	st := n.rn.Status()
	_, voter := st.Config.Voters.IDs()[id]
	_, learner := st.Config.Learners[id]
	switch kind {
	case "voter":
		return voter
	case "learner":
		return learner
	default:
		return !voter && !learner
	}
}

// changeVia returns a function that proposes cc through the cluster's
// leader and waits, within a second, until the leader has applied it so
// that id is kind: a service's join (or removal) request to a member. A
// leader drops a configuration change while another is pending, so the
// wait is what tells the caller it took.
func (c *cluster) changeVia(cc pb.ConfChangeI, id uint64, kind string) func(context.Context) error {
	return func(ctx context.Context) error {
		l := c.leaderNow()
		if l == nil {
			return errors.New("no leader to ask")
		}
		if err := l.rn.ProposeConfChange(ctx, cc); err != nil {
			return err
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if inConfig(l, id, kind) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		return fmt.Errorf("%x is not %s on %x after a second", id, kind, l.id)
	}
}

// change applies cc through the leader, retrying for waitFor.
func (c *cluster) change(cc pb.ConfChangeI, id uint64, kind string) {
	c.t.Helper()
	apply := c.changeVia(cc, id, kind)
	testsupport.Poll(c.t, fmt.Sprintf("%x %s", id, kind), waitFor, 10*time.Millisecond, func() error {
		return apply(c.t.Context())
	})
}

// waitLeaderOtherThan waits until n's node knows a leader that is not old
// and returns when it did.
func (n *node) waitLeaderOtherThan(t testing.TB, old uint64) time.Time {
	t.Helper()
	testsupport.Eventually(t, fmt.Sprintf("%x: a new leader", n.id), waitFor, func() bool {
		l := n.rn.Status().Lead
		return l != raft.None && l != old
	})
	return time.Now()
}
