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
// -failover (0: never) the leader is killed as in a crash (its process
// would say nothing more: the demo closes it without a last transition),
// and a few seconds later restarted on its BoltDB state: the survivors stay
// Ready, the restarted node goes Restarting → Ready without joining again.
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
// others say 503) on the default join backoff otherwise. -advertise is this
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
//
// The files: main.go is one node's life and its command line; node.go
// wires a node together (listeners, telemetry, tracker, Raft, Observer,
// servers) and takes it apart; raft.go, http.go and admin.go are the
// pieces; demo.go is the three-node demo.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
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

// single runs one node from its command line until SIGINT or SIGTERM. The
// node's whole lifecycle is here; the Observer turns each call into the
// phase named beside it.
func single(ctx context.Context, args []string) error {
	f, err := parseFlags(args)
	if err != nil {
		return err
	}
	n, err := startNode(ctx, f.node) // Starting; Restarting when -data holds Raft state
	if err != nil {
		return err
	}
	n.startWatchdog(ctx) // systemd's WATCHDOG=1 while /livez would pass
	n.printURLs()

	switch {
	case n.existing: // Restarting until Raft hears a leader, then Ready{voters}
	case f.bootstrap:
		err = n.obs.Bootstrap(ctx, n.selfOnly()) // Bootstrapping, then Ready{1}
	default:
		err = n.obs.Join(ctx, n.askSeeds(f.seeds)) // Joining{0}, Joining{1} …, then Ready{voters}
	}
	if err != nil && ctx.Err() == nil {
		// The tracker says Failed with the reason; keep serving it until a
		// supervisor, reading /livez, restarts the node.
		n.cfg.Logger.Error("cluster formation failed", "node.id", n.cfg.ID, "error", err)
	}

	<-ctx.Done()
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal ends the process at once
	n.leave()                                   // Draining: /readyz 503, gRPC NOT_SERVING, leadership handed over
	time.Sleep(f.drainDelay)                    // still serving what is in flight while endpoints update
	return n.stop()                             // Stopping: Raft shut down, servers closed, telemetry flushed
}
