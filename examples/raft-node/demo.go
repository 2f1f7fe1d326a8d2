package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// demo runs three nodes in this process, each as it would run in a process
// of its own, forms a cluster of them, kills the leader after -failover and
// restarts it, and stops every node on SIGINT or SIGTERM.
func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("raft-node demo", flag.ContinueOnError)
	port := fs.Int("port", 7101, "first HTTP port; the nodes use three in a row, and Raft the three from port+100")
	failover := fs.Duration("failover", 15*time.Second, "kill the leader after this long, then restart it (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "raft-node-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c := &cluster{cfgs: demoConfigs(*port, dir)}
	if err := c.checkPorts(); err != nil { // say so before claiming the nodes are up
		return fmt.Errorf("%w; the demo needs 127.0.0.1 ports %d-%d (HTTP) and %d-%d (Raft): choose others with -port (make demo DEMO_ARGS=\"-port 7301\")",
			err, *port, *port+2, *port+100, *port+102)
	}

	fmt.Println("A 3-node Raft cluster on loopback; n1 bootstraps, n2 and n3 join it. Ctrl-C stops it.")
	if err := c.open(ctx); err != nil {
		return err
	}
	for i := range c.cfgs {
		c.node(i).printURLs()
	}
	fmt.Printf(`Where to look:
  the lines below: one per lifecycle transition, per node (node.id=…)
  curl -s http://%[1]s/cluster/status      the phase, its payload and the recent history, as JSON
  curl -s http://%[1]s/metrics | grep cluster_lifecycle   the one-hot state gauge, raft leader, last contact
  OTEL_TRACES_EXPORTER=console make demo   (in the repository's root) the formation as spans, on standard output
`, c.cfgs[0].Listen)
	if *failover > 0 {
		fmt.Printf("In %v the leader is killed, then restarted on its Raft log.\n", *failover)
	}
	if err := c.form(ctx); err != nil && ctx.Err() == nil {
		return errors.Join(err, c.stop())
	}

	done := make(chan error, 1)
	go func() {
		if *failover <= 0 {
			done <- nil
			return
		}
		select {
		case <-ctx.Done():
			done <- nil
		case <-time.After(*failover):
			_, err := c.failover(ctx, 3*time.Second, func(format string, args ...any) {
				fmt.Printf("== "+format+"\n", args...)
			})
			done <- err
		}
	}()
	<-ctx.Done()
	ferr := <-done
	fmt.Println("== stopping")
	return errors.Join(ferr, c.stop())
}

// demoConfigs are the demo's three nodes: HTTP on port, port+1, port+2 and
// Raft on port+100 to port+102 of 127.0.0.1, stores under dir.
func demoConfigs(port int, dir string) []config {
	var cfgs []config
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		cfgs = append(cfgs, config{
			ID:     id,
			Listen: fmt.Sprintf("127.0.0.1:%d", port+i),
			Raft:   fmt.Sprintf("127.0.0.1:%d", port+100+i),
			Dir:    filepath.Join(dir, id),
			Logger: consoleLogger(),
		})
	}
	return cfgs
}

// cluster is the demo: nodes in one process, each as it would be in a
// process of its own (its own tracker, providers, Raft, BoltDB and HTTP
// server), any of which can be crashed and restarted.
type cluster struct {
	mu    sync.Mutex
	cfgs  []config
	nodes []*node // nil while a node is down
}

// checkPorts says at once when an address the nodes need is taken.
func (c *cluster) checkPorts() error {
	for _, cfg := range c.cfgs {
		for _, a := range []string{cfg.Listen, cfg.Raft} {
			l, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			_ = l.Close()
		}
	}
	return nil
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
		c.cfgs[i].Listen, c.cfgs[i].Raft = n.httpAddr(), string(n.raftAddr())
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
				errs[i] = n.obs.Bootstrap(ctx, n.selfOnly())
			} else {
				errs[i] = n.obs.Join(ctx, n.askSeeds(seeds))
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

// failover kills the leader, waits pause, and restarts it on its BoltDB
// state, telling each step through say; it ends once the restarted node is
// Ready, and returns the index of the node it killed. Its last line says
// which survivors left Ready since the kill, read from their trackers'
// histories.
func (c *cluster) failover(ctx context.Context, pause time.Duration, say func(format string, args ...any)) (int, error) {
	i := c.leader()
	if i < 0 {
		return i, errors.New("failover: no leader to kill")
	}
	killed := c.cfgs[i].ID
	say("killing the leader %s (as in a crash: Raft and HTTP gone, no last transition); BoltDB kept in %s", killed, c.cfgs[i].Dir)
	crashed := time.Now()
	if err := c.crash(i); err != nil {
		say("%s: crash: %v", killed, err)
	}
	if j, at := c.awaitLeader(ctx, pause); j >= 0 {
		say("new leader: %s, %v after the kill", c.cfgs[j].ID, at.Sub(crashed).Round(time.Millisecond))
	}
	if ctx.Err() != nil {
		return i, nil
	}

	say("restarting %s on its BoltDB state (same ID, same Raft address %s)", killed, c.cfgs[i].Raft)
	began := time.Now()
	n, err := c.restart(ctx, i)
	if err != nil {
		return i, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := n.tracker.WaitReady(wctx); err != nil {
		if ctx.Err() != nil {
			return i, nil
		}
		return i, fmt.Errorf("%s not Ready after its restart: %w", killed, err)
	}
	say("%s is %s again, %v after its restart; %s",
		killed, n.tracker.Current().Detail(), time.Since(began).Round(time.Millisecond), c.survivorsSince(crashed, i))
	return i, nil
}

// awaitLeader waits d, unless ctx ends first, and returns the first node
// it saw lead meanwhile (-1 for none) and when it saw it.
func (c *cluster) awaitLeader(ctx context.Context, d time.Duration) (leader int, at time.Time) {
	leader = -1
	over := time.NewTimer(d)
	defer over.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if leader < 0 {
			if leader = c.leader(); leader >= 0 {
				at = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return leader, at
		case <-over.C:
			return leader, at
		case <-tick.C:
		}
	}
}

// survivorsSince says which nodes other than killed left Ready since t,
// from their trackers' histories.
func (c *cluster) survivorsSince(t time.Time, killed int) string {
	var stayed, left []string
	for j := range c.cfgs {
		n := c.node(j)
		if j == killed || n == nil {
			continue
		}
		moved := false
		for _, tr := range n.tracker.History() {
			moved = moved || tr.At.After(t)
		}
		if moved || !n.tracker.IsReady() {
			left = append(left, n.cfg.ID)
		} else {
			stayed = append(stayed, n.cfg.ID)
		}
	}
	switch {
	case len(left) == 0:
		return strings.Join(stayed, " and ") + " stayed Ready throughout, without a single transition"
	case len(stayed) == 0:
		return strings.Join(left, " and ") + " left Ready meanwhile: see their lines above"
	default:
		return fmt.Sprintf("%s stayed Ready throughout; %s left Ready meanwhile: see its lines above",
			strings.Join(stayed, " and "), strings.Join(left, " and "))
	}
}
