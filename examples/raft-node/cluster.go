package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// cluster is the demo: three nodes in one process, each as it would be in a
// process of its own (its own tracker, providers, Raft, BoltDB and HTTP
// server), one of which can be crashed and restarted.
type cluster struct {
	mu    sync.Mutex
	cfgs  []config
	nodes []*node // nil while a node is down
}

// open starts every node, Starting, serving HTTP, not yet in a cluster.
func (c *cluster) open(ctx context.Context) error {
	c.nodes = make([]*node, len(c.cfgs))
	for i, cfg := range c.cfgs {
		n, err := startNode(ctx, cfg)
		if err != nil {
			return errors.Join(err, c.stop())
		}
		c.nodes[i] = n
		// A restart on the same addresses keeps what port 0 picked.
		c.cfgs[i].Listen, c.cfgs[i].Listener, c.cfgs[i].Raft = n.httpAddr(), nil, string(n.raftAddr())
	}
	return nil
}

// form makes the cluster: the first node bootstraps and the others join it
// through its HTTP /cluster/join, all at once (the joiners retry until the
// first has elected itself). It returns when every join request was
// accepted; the nodes are Ready shortly after.
func (c *cluster) form(ctx context.Context) error {
	seeds := []string{c.cfgs[0].Listen}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			if i == 0 {
				errs[i] = n.bootstrap(ctx)
			} else {
				errs[i] = n.join(ctx, seeds)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// leader returns the index of the node that is the Raft leader, or -1.
func (c *cluster) leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.nodes {
		if n != nil && n.r.State() == raft.Leader {
			return i
		}
	}
	return -1
}

// node returns node i, nil while it is down.
func (c *cluster) node(i int) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// crash kills node i as a crash would (see node.crash).
func (c *cluster) crash(i int) error {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%s is not running", c.cfgs[i].ID)
	}
	return n.crash()
}

// restart starts node i again on its BoltDB state, its ID and its
// addresses: a new process with a new tracker and Observer. It joins
// nothing: it is still in the configuration, and its log says so.
func (c *cluster) restart(ctx context.Context, i int) (*node, error) {
	n, err := startNode(ctx, c.cfgs[i])
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
	return n, nil
}

// stop shuts every running node down in order (Stopping, then Raft, then
// the flush of its telemetry).
func (c *cluster) stop() error {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = make([]*node, len(nodes))
	c.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if n != nil {
			errs = append(errs, n.stop())
		}
	}
	return errors.Join(errs...)
}

// failover crashes the leader after d, waits pause, and restarts it,
// reporting each step through say. It returns what it measured.
func (c *cluster) failover(ctx context.Context, d, pause time.Duration, say func(format string, args ...any)) (failoverReport, error) {
	var rep failoverReport
	select {
	case <-ctx.Done():
		return rep, nil
	case <-time.After(d):
	}
	i := c.leader()
	if i < 0 {
		return rep, errors.New("failover: no leader to kill")
	}
	rep.killed = c.cfgs[i].ID
	survivors := []*node{}
	for j := range c.cfgs {
		if j != i {
			survivors = append(survivors, c.node(j))
		}
	}
	watch := watchNotReady(survivors)
	say("killing the leader %s (Raft shut down as in a crash, HTTP closed); BoltDB kept in %s", rep.killed, c.cfgs[i].Dir)
	crashed := time.Now()
	if err := c.crash(i); err != nil {
		say("%s: crash: %v", rep.killed, err)
	}
	pauseOver := time.NewTimer(pause)
	defer pauseOver.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
paused:
	for {
		if j := c.leader(); j >= 0 && rep.election == 0 {
			rep.election = time.Since(crashed)
			say("new leader: %s, %v after the crash", c.cfgs[j].ID, rep.election.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			rep.survivorsNotReady = watch()
			return rep, nil
		case <-pauseOver.C:
			break paused
		case <-tick.C:
		}
	}
	say("restarting %s on its BoltDB state (same ID, same Raft address %s)", rep.killed, c.cfgs[i].Raft)
	began := time.Now()
	n, err := c.restart(ctx, i)
	if err != nil {
		rep.survivorsNotReady = watch()
		return rep, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := n.tracker.WaitReady(wctx); err != nil {
		rep.survivorsNotReady = watch()
		return rep, fmt.Errorf("%s not Ready after its restart: %w", rep.killed, err)
	}
	rep.restartToReady = time.Since(began)
	rep.survivorsNotReady = watch()
	say("failover done: the survivors were not Ready for %v; %s was Ready %v after its restart",
		rep.survivorsNotReady.Round(time.Millisecond), rep.killed, rep.restartToReady.Round(time.Millisecond))
	return rep, nil
}

type failoverReport struct {
	killed            string
	election          time.Duration // from the crash to a survivor leading (0: none within the pause)
	survivorsNotReady time.Duration // summed over the survivors
	restartToReady    time.Duration
}

// watchNotReady measures how long the nodes are not Ready from now on, from
// their trackers' transitions (so no short Failed is missed between
// samples); the function it returns stops the watch and returns the sum.
func watchNotReady(nodes []*node) func() time.Duration {
	var (
		mu    sync.Mutex
		total time.Duration
		wg    sync.WaitGroup
	)
	done := make(chan struct{})
	for _, n := range nodes {
		ch, cancel := n.tracker.Subscribe(64)
		var since time.Time // when n left Ready; zero while Ready
		if !n.tracker.IsReady() {
			since = time.Now()
		}
		wg.Go(func() {
			defer cancel()
			for {
				select {
				case <-done:
					mu.Lock()
					if !since.IsZero() {
						total += time.Since(since)
					}
					mu.Unlock()
					return
				case tr, ok := <-ch:
					if !ok { // the tracker closed: nothing more to see
						ch = nil
						continue
					}
					mu.Lock()
					switch {
					case tr.To.IsReady() && !since.IsZero():
						total += tr.At.Sub(since)
						since = time.Time{}
					case !tr.To.IsReady() && since.IsZero():
						since = tr.At
					}
					mu.Unlock()
				}
			}
		})
	}
	return func() time.Duration {
		close(done)
		wg.Wait()
		return total
	}
}

// checkPorts says at once when an address the demo needs is taken.
func checkPorts(addrs []string) error {
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		_ = l.Close()
	}
	return nil
}
