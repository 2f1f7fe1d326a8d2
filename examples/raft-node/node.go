package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/lifecyclekit/lifecycle/exporters/grpchealth"
	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// timing is how fast the Raft cluster reacts. Raft's defaults (1 s
// heartbeat and election timeouts) make a failover take seconds; these make
// it take a fraction of one, on loopback, and are still far below the
// Observer's leaderless timeout, so an election never shows as Failed.
type timing struct {
	Heartbeat  time.Duration   // Raft's heartbeat and election timeouts
	Poll       time.Duration   // lifecycleraft.WithPollInterval
	Leaderless time.Duration   // lifecycleraft.WithLeaderlessTimeout
	Backoff    []time.Duration // lifecycleraft.WithJoinBackoff; nil: the default
}

var defaultTiming = timing{Heartbeat: 300 * time.Millisecond, Poll: 250 * time.Millisecond, Leaderless: 10 * time.Second}

// config describes one node.
type config struct {
	ID        string
	Listen    string // HTTP bind host:port; port 0 picks one
	Advertise string // HTTP host:port other nodes reach this node at; "": the bound address
	Raft      string // Raft TCP bind address; port 0 picks one
	// RaftAdvertise is the Raft address stored in the cluster's
	// configuration, a DNS name or an IP; "": the bound address. Needed
	// when Raft binds every interface (0.0.0.0).
	RaftAdvertise string
	GRPC          string // gRPC health (grpc.health.v1) host:port; "": none
	Admin         string // admin endpoints' host:port, loopback only; "": none
	Dir           string // BoltDB log and snapshots; kept across restarts
	Timing        timing // zero: defaultTiming
	Logger        *slog.Logger
	// Globals makes the node's OpenTelemetry providers the process's
	// global ones (otelsetup's default): for a node alone in its process.
	// The demo's three nodes share one process and leave the globals alone.
	Globals bool
}

// node is one Raft server, its tracker and Observer, and its servers, as
// one process of a service would have them.
type node struct {
	cfg       config
	prom      *promexport.Exporter
	providers *otelsetup.Providers
	notify    *sdnotify.Sink
	tracker   *otellifecycle.Tracker
	bolt      *raftboltdb.BoltStore
	trans     *raft.NetworkTransport
	r         *raft.Raft
	obs       *lifecycleraft.Observer
	existing  bool // Raft had state on disk when the node started

	lis      net.Listener // HTTP
	srv      *http.Server
	served   chan struct{} // closed when srv.Serve returns
	client   *http.Client  // for joining through a seed
	grpcLis  net.Listener  // nil without cfg.GRPC
	health   *health.Server
	grpcSrv  *grpc.Server
	adminLis net.Listener // nil without cfg.Admin
	admin    *http.Server
}

// startNode wires a node together and starts serving. The node is then
// Starting (an empty data directory) or Restarting (Raft state on disk)
// until bootstrap, join or its Raft log makes it Ready. On error, whatever
// was opened is closed again.
func startNode(ctx context.Context, cfg config) (n *node, err error) {
	if cfg.Timing.Heartbeat == 0 {
		cfg.Timing = defaultTiming
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n = &node{cfg: cfg, served: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = n.closeAll()
			err = fmt.Errorf("node %s: %w", cfg.ID, err)
		}
	}()
	if err = n.listen(); err != nil { // HTTP, and gRPC health and admin when asked for
		return n, err
	}
	if err = n.setupTelemetry(ctx); err != nil { // OpenTelemetry from OTEL_*, Prometheus on /metrics
		return n, err
	}
	if n.tracker, err = otellifecycle.New(n.trackerOptions()...); err != nil { // Starting
		return n, err
	}
	if err = n.openRaft(ctx); err != nil { // BoltDB, the TCP transport, raft.NewRaft
		return n, err
	}
	// Right after NewRaft, before bootstrap or join: Observe reads whether
	// Raft has state (Restarting) or not (Starting).
	if n.obs, err = lifecycleraft.Observe(n.r, n.tracker, raft.ServerID(cfg.ID), n.observerOptions()...); err != nil {
		return n, err
	}
	n.serve() // HTTP, gRPC health, admin
	return n, nil
}

// listen opens the node's listeners first, so a port in use fails the
// start before anything else is made.
func (n *node) listen() (err error) {
	if n.lis, err = net.Listen("tcp", n.cfg.Listen); err != nil {
		return err
	}
	if n.cfg.Admin != "" {
		if err = loopbackOnly(n.cfg.Admin); err != nil {
			return err
		}
		if n.adminLis, err = net.Listen("tcp", n.cfg.Admin); err != nil {
			return err
		}
	}
	if n.cfg.GRPC != "" {
		if n.grpcLis, err = net.Listen("tcp", n.cfg.GRPC); err != nil {
			return err
		}
		n.health = health.NewServer() // NOT_SERVING from here on, until the tracker is Ready
	}
	return nil
}

// setupTelemetry builds the node's OpenTelemetry providers from the OTEL_*
// environment, with its Prometheus reader for /metrics.
func (n *node) setupTelemetry(ctx context.Context) (err error) {
	if n.prom, err = promexport.New(); err != nil {
		return err
	}
	opts := []otelsetup.Option{
		otelsetup.WithServiceName("raft-node"),
		otelsetup.WithInstanceID(n.cfg.ID),
		// The console is for people: one log line per transition. Spans go
		// where OTEL_TRACES_EXPORTER says, nowhere by default; metrics on
		// this node's /metrics, and wherever OTEL_METRICS_EXPORTER says.
		otelsetup.WithDefaultTraceExporter(otelsetup.None),
		otelsetup.WithDefaultMetricExporter(otelsetup.None),
		otelsetup.WithDefaultLogExporter(otelsetup.None),
		otelsetup.WithPrometheus(n.prom),
	}
	if !n.cfg.Globals {
		opts = append(opts, otelsetup.WithoutGlobals())
	}
	n.providers, err = otelsetup.Setup(ctx, opts...)
	return err
}

// trackerOptions give the tracker the node's providers, its node.id on
// every point, span and record, the console, and its sinks: systemd, and
// gRPC health when served.
func (n *node) trackerOptions() []otellifecycle.Option {
	n.notify = sdnotify.New() // does nothing without NOTIFY_SOCKET
	sinks := []otellifecycle.Sink{n.notify}
	if n.health != nil {
		sinks = append(sinks, grpchealth.New(n.health))
	}
	return append(n.providers.TrackerOptions(),
		otellifecycle.WithAttributes(attribute.String("node.id", n.cfg.ID)),
		otellifecycle.WithLogger(n.cfg.Logger),
		otellifecycle.WithSinks(sinks...))
}

// observerOptions are the Raft timings; the Raft instruments go to the
// tracker's providers with its node.id, which the Observer inherits.
func (n *node) observerOptions() []lifecycleraft.Option {
	opts := []lifecycleraft.Option{
		lifecycleraft.WithPollInterval(n.cfg.Timing.Poll),
		lifecycleraft.WithLeaderlessTimeout(n.cfg.Timing.Leaderless),
	}
	if len(n.cfg.Timing.Backoff) > 0 {
		opts = append(opts, lifecycleraft.WithJoinBackoff(n.cfg.Timing.Backoff...))
	}
	return opts
}

// startWatchdog pings systemd's watchdog (WATCHDOG_USEC) while the node is
// live as /livez says; without systemd it does nothing.
func (n *node) startWatchdog(ctx context.Context) {
	if _, err := n.notify.StartWatchdog(ctx, n.tracker.IsLive); err != nil {
		n.cfg.Logger.Warn("systemd watchdog not started", "node.id", n.cfg.ID, "error", err)
	}
}

// leave hands the node's place over before it stops: Draining (readiness
// off, gRPC NOT_SERVING, Raft leadership handed to another node).
func (n *node) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.obs.Leave(ctx, nil); err != nil {
		n.cfg.Logger.Warn("leave", "node.id", n.cfg.ID, "error", err)
	}
}

// stop is the orderly shutdown: Stopping (the Observer shuts Raft down),
// then the servers, the tracker (its final state flushed) and the
// providers.
func (n *node) stop() error {
	err := n.obs.Shutdown()
	return errors.Join(err, n.closeAll())
}

// crash ends the node as a crashed process ends: no Stopping and no last
// word from the Observer (it is detached first, so Raft stopping under it
// is not reported as Failed), Raft and every server gone at once. The
// BoltDB state stays on disk for a restart.
func (n *node) crash() error { return n.closeAll() }

// closeAll closes whatever startNode opened, in reverse order; it is safe on
// a half-started node.
func (n *node) closeAll() error {
	var errs []error
	if n.obs != nil {
		errs = append(errs, n.obs.Close())
	}
	errs = append(errs, n.closeRaft())
	if n.grpcSrv != nil {
		n.grpcSrv.Stop()
	} else if n.grpcLis != nil {
		_ = n.grpcLis.Close()
	}
	if n.admin != nil {
		_ = n.admin.Close()
	} else if n.adminLis != nil {
		_ = n.adminLis.Close()
	}
	if n.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := n.srv.Shutdown(ctx); err != nil {
			_ = n.srv.Close()
		}
		cancel()
		<-n.served
	} else if n.lis != nil {
		_ = n.lis.Close()
	}
	if n.client != nil {
		n.client.CloseIdleConnections()
	}
	// The tracker first: it flushes its final state; then the providers
	// export what is left and stop. Telemetry that cannot be delivered (a
	// collector that is down) is a warning, not the node's failure: a
	// supervisor reading the exit status would take it for a crash.
	var telemetry []error
	if n.tracker != nil {
		telemetry = append(telemetry, n.tracker.Close())
	}
	if n.providers != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		telemetry = append(telemetry, n.providers.Shutdown(ctx))
		cancel()
	}
	if err := errors.Join(telemetry...); err != nil {
		n.cfg.Logger.Warn("telemetry not flushed", "node.id", n.cfg.ID, "error", err)
	}
	return errors.Join(errs...)
}

// httpAddr is the address other nodes reach this one's HTTP server at.
func (n *node) httpAddr() string {
	if n.cfg.Advertise != "" {
		return n.cfg.Advertise
	}
	return n.lis.Addr().String()
}

// consoleLogger is where the trackers' records go: readable text, one line
// per transition, each carrying its node.id.
func consoleLogger() *slog.Logger { return slog.New(slog.NewTextHandler(os.Stderr, nil)) }

// printURLs says where to look at the node.
func (n *node) printURLs() {
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
