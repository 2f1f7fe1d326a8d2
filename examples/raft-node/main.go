// Command raft-node is a real Raft cluster (hashicorp/raft on TCP, its log
// in BoltDB) whose nodes' lifecycles are driven by lifecycleraft: no mapping
// code, the Observer turns what Raft reports into Starting, Restarting,
// Bootstrapping, Joining, Ready{n}, Failed and Stopping, and the tracker
// fans that out to /cluster/status, /readyz, /livez, /metrics, one slog
// line per transition, systemd (when run under it) and OpenTelemetry
// (spans only where OTEL_TRACES_EXPORTER says).
//
// Three nodes in one process, and a failover:
//
//	raft-node demo [-port 7101] [-failover 15s]
//
// HTTP is on port, port+1 and port+2, Raft on port+100 to port+102; the
// BoltDB stores live in a temporary directory removed at exit. n1
// bootstraps; n2 and n3 join through n1's POST /cluster/join. After
// -failover (0: never) the leader is killed as in a crash, and a few
// seconds later restarted on its BoltDB state: the survivors stay Ready,
// the restarted node goes Restarting → Ready without joining again.
//
// One node per process:
//
//	raft-node -id n1 -listen 127.0.0.1:7101 -raft 127.0.0.1:7201 \
//	    -seeds 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 -data /var/lib/n1 [-bootstrap]
//	    [-advertise host:port] [-raft-advertise host:port] [-grpc host:port]
//	    [-admin 127.0.0.1:port] [-leaderless 10s] [-drain-delay 0s]
//
// A node with Raft state in -data restarts on it; otherwise it bootstraps
// when -bootstrap is given or when it is the lowest seed and -data is empty,
// and joins through a seed's /cluster/join (the leader's answers; the
// others say 503) on the origin's backoff otherwise. -advertise is this
// node's HTTP address as the seeds list writes it (default -listen), and
// -raft-advertise its Raft address as the cluster's configuration stores it
// (default -raft): set both when binding 0.0.0.0, as in a container or a
// pod (see examples/kubernetes). -grpc serves grpc.health.v1 (SERVING only
// while Ready); -admin serves POST /admin/fail and /admin/recover, without
// authentication, so only on a loopback address and only when asked for.
//
// In the demo, SIGINT or SIGTERM stops every node (Stopping, Raft shut
// down), flushes the telemetry and exits 0. A single node stops in the
// order a load balancer or Kubernetes needs: readiness off first (Draining:
// /readyz 503, gRPC NOT_SERVING, Raft leadership handed to another node),
// then -drain-delay of serving what is in flight while endpoints update,
// then Stopping (Raft shut down, servers closed, telemetry flushed) and
// exit 0. A second signal ends the process at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		err = demo(ctx, os.Args[2:])
	} else {
		err = single(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "raft-node:", err)
		os.Exit(1)
	}
}

// consoleLogger is where the trackers' records go: readable text, one line
// per transition, each carrying its node.id.
func consoleLogger() *slog.Logger { return slog.New(slog.NewTextHandler(os.Stderr, nil)) }

func single(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("raft-node", flag.ContinueOnError)
	id := fs.String("id", "", "node id, the Raft server ID (required)")
	listen := fs.String("listen", "127.0.0.1:7101", "HTTP host:port; other nodes reach this node here")
	raftAddr := fs.String("raft", "127.0.0.1:7201", "Raft TCP host:port")
	advertise := fs.String("advertise", "", "HTTP host:port other nodes reach this node at, as -seeds writes it (default: -listen)")
	raftAdvertise := fs.String("raft-advertise", "", "Raft host:port the cluster configuration stores, a name or an IP (default: -raft; needed when -raft binds 0.0.0.0)")
	seeds := fs.String("seeds", "", "comma-separated HTTP host:port of every node; the lowest bootstraps")
	data := fs.String("data", "", "directory of the Raft log and snapshots (required)")
	boot := fs.Bool("bootstrap", false, "bootstrap a new cluster (when -data holds no Raft state)")
	grpcAddr := fs.String("grpc", "", "serve grpc.health.v1 on this host:port (default: off)")
	admin := fs.String("admin", "", "serve the unauthenticated admin endpoints on this loopback host:port (default: off)")
	leaderless := fs.Duration("leaderless", demoTiming.Leaderless, "how long without a Raft leader before the node is Failed")
	drainDelay := fs.Duration("drain-delay", 0, "on SIGTERM, how long to stay Draining (not ready, still serving) before stopping")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" || *data == "" {
		return errors.New("-id and -data are required")
	}
	self := *listen
	if *advertise != "" {
		self = *advertise
	}
	seedList := splitList(*seeds)
	if !*boot && len(seedList) > 0 && slices.Min(seedList) == self && emptyDir(*data) {
		*boot = true
	}
	timing := demoTiming
	timing.Leaderless = *leaderless
	notify := sdnotify.New()
	n, err := startNode(ctx, config{
		ID: *id, Listen: *listen, Advertise: *advertise, Raft: *raftAddr, RaftAdvertise: *raftAdvertise,
		GRPC: *grpcAddr, Admin: *admin, Dir: *data, Timing: timing,
		Logger: consoleLogger(), Sinks: []otellifecycle.Sink{notify},
	})
	if err != nil {
		return err
	}
	singleStarted(n)
	if _, err := notify.StartWatchdog(ctx, n.tracker.IsLive); err != nil {
		n.cfg.Logger.Warn("systemd watchdog not started", "node.id", *id, "error", err)
	}
	printURLs(n)
	switch {
	case n.existing: // Restarting, then Ready once it hears a leader
	case *boot:
		err = n.bootstrap(ctx)
	default:
		err = n.join(ctx, seedList)
	}
	if err != nil && ctx.Err() == nil {
		// The tracker says Failed with the reason; keep serving it until
		// a supervisor, reading /livez, restarts the node.
		n.cfg.Logger.Error("cluster formation failed", "node.id", *id, "error", err)
	}
	<-ctx.Done()
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal ends the process at once
	return n.leave(*drainDelay)
}

// singleStarted sees the node single started; tests look at its Raft.
var singleStarted = func(*node) {}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// emptyDir reports whether dir is missing or holds nothing.
func emptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return (err != nil && errors.Is(err, os.ErrNotExist)) || (err == nil && len(entries) == 0)
}

func printURLs(n *node) {
	base := "http://" + n.httpAddr()
	fmt.Printf("node %s: %s/cluster/status  %s/readyz  %s/livez  %s/metrics  (raft %s)\n",
		n.cfg.ID, base, base, base, base, n.raftAddr())
	if n.grpcLis != nil {
		fmt.Printf("node %s: grpc.health.v1 on %s\n", n.cfg.ID, n.grpcLis.Addr())
	}
	if n.adminLis != nil {
		fmt.Printf("node %s: admin: curl -X POST -d reason http://%s/admin/fail, then …/admin/recover\n", n.cfg.ID, n.adminLis.Addr())
	}
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
			Sinks:  []otellifecycle.Sink{sdnotify.New()},
		})
	}
	return cfgs
}

func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("raft-node demo", flag.ContinueOnError)
	port := fs.Int("port", 7101, "first HTTP port; the nodes use three in a row, and Raft the three from port+100")
	failover := fs.Duration("failover", 15*time.Second, "kill the leader after this long, then restart it (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfgs := demoConfigs(*port, "")
	var addrs []string
	for _, c := range cfgs {
		addrs = append(addrs, c.Listen, c.Raft)
	}
	if err := checkPorts(addrs); err != nil { // say so before claiming the nodes are up
		return fmt.Errorf("%w; the demo needs 127.0.0.1 ports %d-%d (HTTP) and %d-%d (Raft): choose others with -port (make demo DEMO_ARGS=\"-port 7301\")",
			err, *port, *port+2, *port+100, *port+102)
	}
	dir, err := os.MkdirTemp("", "raft-node-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgs = demoConfigs(*port, dir)

	fmt.Println("A 3-node Raft cluster on loopback; n1 bootstraps, n2 and n3 join it. Ctrl-C stops it.")
	c := &cluster{cfgs: cfgs}
	if err := c.open(ctx); err != nil {
		return err
	}
	for i := range c.cfgs {
		printURLs(c.node(i))
	}
	fmt.Printf(`Where to look:
  the lines below: one per lifecycle transition, per node (node.id=…)
  curl -s http://%[1]s/cluster/status      the phase, its payload and the recent history, as JSON
  curl -s http://%[1]s/metrics | grep cluster_lifecycle   the one-hot state gauge, raft leader, last contact
  OTEL_TRACES_EXPORTER=console raft-node demo   the formation as spans, on standard output
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
		_, err := c.failover(ctx, *failover, 3*time.Second, func(format string, args ...any) {
			fmt.Printf("== "+format+"\n", args...)
		})
		done <- err
	}()
	<-ctx.Done()
	ferr := <-done
	fmt.Println("== stopping")
	return errors.Join(ferr, c.stop())
}
