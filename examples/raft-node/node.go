package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lifecyclekit/lifecycle/exporters/grpchealth"
	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// timing is how fast the Raft cluster reacts. Raft's defaults (1 s
// heartbeat and election timeouts) make a failover take seconds; these make
// it take a fraction of one, on loopback, and are still far below the
// Observer's leaderless timeout, so an election never shows as Failed.
type timing struct {
	Heartbeat  time.Duration // Raft's heartbeat and election timeouts
	Poll       time.Duration // lifecycleraft.WithPollInterval
	Leaderless time.Duration // lifecycleraft.WithLeaderlessTimeout
}

var demoTiming = timing{Heartbeat: 300 * time.Millisecond, Poll: 250 * time.Millisecond, Leaderless: 10 * time.Second}

// config describes one node.
type config struct {
	ID        string
	Listen    string       // HTTP bind host:port
	Advertise string       // HTTP host:port other nodes reach this node at; "": the bound address
	Listener  net.Listener // when set, served instead of listening on Listen
	Raft      string       // Raft TCP bind address; port 0 picks one
	// RaftAdvertise is the Raft address stored in the cluster's
	// configuration, a DNS name or an IP; "": the bound address. Needed
	// when Raft binds every interface (0.0.0.0).
	RaftAdvertise string
	GRPC          string // gRPC health (grpc.health.v1) host:port; "": none
	Admin         string // admin endpoints' host:port, loopback only; "": none
	Dir           string // BoltDB log and snapshots; kept across restarts
	Backoff       []time.Duration
	Timing        timing
	Setup         []otelsetup.Option
	Logger        *slog.Logger
	Sinks         []otellifecycle.Sink
}

// node is one Raft server, its tracker and Observer, and its HTTP server,
// as one process of a service would have them.
type node struct {
	cfg       config
	prom      *promexport.Exporter
	providers *otelsetup.Providers
	tracker   *otellifecycle.Tracker
	bolt      *raftboltdb.BoltStore
	trans     *raft.NetworkTransport
	health    *health.Server // nil without cfg.GRPC
	grpcSrv   *grpc.Server
	grpcLis   net.Listener
	admin     *http.Server // nil without cfg.Admin
	adminLis  net.Listener
	r         *raft.Raft
	obs       *lifecycleraft.Observer
	lis       net.Listener
	srv       *http.Server
	client    *http.Client
	served    chan struct{} // closed when srv.Serve returns
	existing  bool          // Raft had state on disk when the node started
}

type joinRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"` // Raft address
}

const maxBody = 4096

// startNode opens everything a node needs and serves HTTP; the node is then
// Starting (a fresh data dir) or Restarting (Raft state on disk) until
// bootstrap, join or its Raft log makes it Ready. On error, whatever was
// opened is closed again.
func startNode(ctx context.Context, cfg config) (n *node, err error) {
	if cfg.Timing == (timing{}) {
		cfg.Timing = demoTiming
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = lifecycleraft.DefaultJoinBackoff()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n = &node{cfg: cfg, served: make(chan struct{})}
	defer func() {
		if err != nil {
			n.closeAll()
			err = fmt.Errorf("node %s: %w", cfg.ID, err)
		}
	}()
	if n.lis = cfg.Listener; n.lis == nil {
		if n.lis, err = net.Listen("tcp", cfg.Listen); err != nil {
			return n, err
		}
	}
	if cfg.Admin != "" {
		if err = loopbackOnly(cfg.Admin); err != nil {
			return n, err
		}
		if n.adminLis, err = net.Listen("tcp", cfg.Admin); err != nil {
			return n, err
		}
	}
	if cfg.GRPC != "" {
		if n.grpcLis, err = net.Listen("tcp", cfg.GRPC); err != nil {
			return n, err
		}
		// NOT_SERVING from here on, until the tracker is Ready.
		n.health = health.NewServer()
		cfg.Sinks = append(slices.Clip(cfg.Sinks), grpchealth.New(n.health))
	}
	if n.prom, err = promexport.New(); err != nil {
		return n, err
	}
	setup := append([]otelsetup.Option{
		otelsetup.WithServiceName("raft-node"),
		otelsetup.WithInstanceID(cfg.ID),
		// The console is for people: one log line per transition. Spans go
		// where OTEL_TRACES_EXPORTER says, nowhere by default; metrics on
		// this node's /metrics, and wherever OTEL_METRICS_EXPORTER says.
		otelsetup.WithDefaultTraceExporter(otelsetup.None),
		otelsetup.WithDefaultMetricExporter(otelsetup.None),
		otelsetup.WithDefaultLogExporter(otelsetup.None),
		otelsetup.WithPrometheus(n.prom),
	}, cfg.Setup...)
	if n.providers, err = otelsetup.Setup(ctx, setup...); err != nil {
		return n, err
	}
	nodeID := attribute.String("node.id", cfg.ID)
	if n.tracker, err = otellifecycle.New(append(n.providers.TrackerOptions(),
		otellifecycle.WithAttributes(nodeID),
		otellifecycle.WithLogger(cfg.Logger),
		otellifecycle.WithSinks(cfg.Sinks...))...); err != nil {
		return n, err
	}

	if err = os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return n, err
	}
	if n.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second}, // a second process on the same dir fails, not hangs
	}); err != nil {
		return n, err
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 1, io.Discard)
	if err != nil {
		return n, err
	}
	if n.existing, err = raft.HasExistingState(n.bolt, n.bolt, snaps); err != nil {
		return n, err
	}
	var advertise net.Addr
	if cfg.RaftAdvertise != "" {
		if advertise, err = resolve(ctx, cfg.RaftAdvertise); err != nil {
			return n, fmt.Errorf("-raft-advertise: %w", err)
		}
	}
	if n.trans, err = raft.NewTCPTransport(cfg.Raft, advertise, 3, 2*time.Second, io.Discard); err != nil {
		if advertise == nil && unspecified(cfg.Raft) {
			return n, fmt.Errorf("raft transport on %s: %w: give -raft-advertise, the address other nodes reach this one's Raft at", cfg.Raft, err)
		}
		return n, fmt.Errorf("raft transport: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.Timing.Heartbeat
	rc.ElectionTimeout = cfg.Timing.Heartbeat
	rc.LeaderLeaseTimeout = cfg.Timing.Heartbeat / 2
	rc.LogOutput = io.Discard // the console has the tracker's lines, not Raft's
	if n.r, err = raft.NewRaft(rc, fsm{}, n.bolt, n.bolt, snaps, n.trans); err != nil {
		return n, err
	}
	// Right after NewRaft, before bootstrap or join: Observe reads whether
	// Raft has state (Restarting) or not (Starting).
	n.obs = lifecycleraft.Observe(n.r, n.tracker, rc.LocalID,
		lifecycleraft.WithMeterProvider(n.providers.Meter),
		lifecycleraft.WithAttributes(nodeID),
		lifecycleraft.WithJoinBackoff(cfg.Backoff...),
		lifecycleraft.WithPollInterval(cfg.Timing.Poll),
		lifecycleraft.WithLeaderlessTimeout(cfg.Timing.Leaderless))

	prop := otelhttp.WithPropagators(propagation.TraceContext{})
	// Probes and scrapes are not traced: they would bury the joins.
	quiet := otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path == "/cluster/join" })
	tp := otelhttp.WithTracerProvider(n.providers.Tracer)
	mp := otelhttp.WithMeterProvider(n.providers.Meter)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	n.client = &http.Client{Timeout: 5 * time.Second, Transport: otelhttp.NewTransport(transport, prop, tp, mp, quiet)}
	mux := http.NewServeMux()
	mux.Handle("/cluster/status", n.tracker.StatusHandler())
	mux.Handle("/readyz", n.tracker.ReadyHandler())
	mux.Handle("/livez", n.tracker.LiveHandler())
	mux.Handle("/startupz", n.tracker.StartupHandler())
	mux.Handle("/metrics", n.prom.Handler())
	mux.HandleFunc("POST /cluster/join", n.handleJoin)
	n.srv = &http.Server{
		Handler:           otelhttp.NewHandler(mux, "raft-node", prop, tp, mp, quiet),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		defer close(n.served)
		_ = n.srv.Serve(n.lis)
	}()
	if n.health != nil {
		n.grpcSrv = grpc.NewServer()
		healthpb.RegisterHealthServer(n.grpcSrv, n.health)
		go func() { _ = n.grpcSrv.Serve(n.grpcLis) }()
	}
	if n.adminLis != nil {
		n.serveAdmin()
	}
	return n, nil
}

// httpAddr is the address other nodes reach this one's HTTP server at.
func (n *node) httpAddr() string {
	if n.cfg.Advertise != "" {
		return n.cfg.Advertise
	}
	return n.lis.Addr().String()
}

// raftAddr is the address the cluster's configuration holds for this node:
// RaftAdvertise, or the bound one (what port 0 picked).
func (n *node) raftAddr() raft.ServerAddress {
	if n.cfg.RaftAdvertise != "" {
		return raft.ServerAddress(n.cfg.RaftAdvertise)
	}
	return n.trans.LocalAddr()
}

// resolve turns host:port into the TCP address Raft's transport
// advertises. A new pod's or container's own DNS name may take a while to
// exist, so it retries for up to a minute.
func resolve(ctx context.Context, hostport string) (net.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		addr, err := net.ResolveTCPAddr("tcp", hostport)
		if err == nil {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

// bootstrap forms a new cluster of this node alone.
func (n *node) bootstrap(ctx context.Context) error {
	return n.obs.Bootstrap(ctx, raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.ID), Address: n.raftAddr()},
	}})
}

// join asks the seeds (HTTP host:port, this node's own skipped) to add this
// node, on the Observer's backoff; one attempt asks every seed in turn, and
// only the leader says yes.
func (n *node) join(ctx context.Context, seeds []string) error {
	body, err := json.Marshal(joinRequest{ID: n.cfg.ID, Addr: string(n.raftAddr())})
	if err != nil {
		return err
	}
	return n.obs.Join(ctx, func(ctx context.Context) error {
		// The request is a child of this attempt's phase span and
		// carries its trace context to the seed.
		ctx = n.tracker.ContextWithPhase(ctx)
		var errs []error
		for _, s := range seeds {
			if s == n.httpAddr() || s == n.cfg.Listen {
				continue
			}
			err := n.post(ctx, s, "/cluster/join", body)
			if err == nil {
				return nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return errors.New("no seed to join")
		}
		return errors.Join(errs...)
	})
}

func (n *node) post(ctx context.Context, peer, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+peer+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 256))
		return fmt.Errorf("%s: %s: %s", peer+path, res.Status, bytes.TrimSpace(msg))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	return nil
}

// handleJoin adds a voter when this node is the leader; any other node
// answers 503 and the joiner asks the next seed.
func (n *node) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil || req.ID == "" || req.Addr == "" {
		http.Error(w, "bad join request: want {\"id\":…,\"addr\":…}", http.StatusBadRequest)
		return
	}
	if n.r.State() != raft.Leader {
		_, leader := n.r.LeaderWithID()
		http.Error(w, fmt.Sprintf("%s is not the leader (leader: %q)", n.cfg.ID, leader), http.StatusServiceUnavailable)
		return
	}
	if err := n.r.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, 5*time.Second).Error(); err != nil {
		http.Error(w, "add voter: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}\n")
}

// stop is the orderly shutdown: Stopping (the Observer shuts Raft down),
// then the HTTP server, the tracker (its final state flushed) and the
// providers.
func (n *node) stop() error {
	err := n.obs.Shutdown()
	return errors.Join(err, n.closeAll())
}

// leave stops the node in the order a load balancer or Kubernetes needs:
// Draining first (readiness off, gRPC NOT_SERVING, Raft leadership handed
// to another node), then drain of serving what is in flight while the
// endpoints update, then Stopping.
func (n *node) leave(drain time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := n.obs.Leave(ctx, nil); err != nil {
		n.cfg.Logger.Warn("leave", "node.id", n.cfg.ID, "error", err)
	}
	cancel()
	time.Sleep(drain)
	return n.stop()
}

// crash kills the node as a crashed process would leave its peers: Raft
// shut down behind the Observer's back (which shows it as Failed{"raft
// shut down"} on this node's own console line) and the HTTP server gone.
// The BoltDB state stays on disk for a restart.
func (n *node) crash() error {
	err := n.r.Shutdown().Error()
	// Let the Observer see the crash (it re-reads Raft every poll) before
	// it is detached, so the console says what happened to this node.
	ctx, cancel := context.WithTimeout(context.Background(), 4*n.cfg.Timing.Poll)
	_, _ = n.tracker.Wait(ctx, func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Failed })
	cancel()
	return errors.Join(err, n.closeAll())
}

// closeAll closes whatever startNode opened, in reverse order; it is safe on
// a half-started node.
func (n *node) closeAll() error {
	var errs []error
	if n.obs != nil {
		n.obs.Close()
	}
	if n.r != nil {
		errs = append(errs, n.r.Shutdown().Error()) // a no-op once shut down
	}
	if n.trans != nil {
		// Close stops the listener only: close the pooled connections too,
		// as a process exit would, so the peers' handlers of them end.
		errs = append(errs, n.trans.Close())
		n.trans.CloseStreams()
	}
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
	if n.bolt != nil {
		errs = append(errs, n.bolt.Close())
	}
	// The tracker first: it flushes its final state; then the providers
	// export what is left and stop.
	if n.tracker != nil {
		errs = append(errs, n.tracker.Close())
	}
	if n.providers != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.providers.Shutdown(ctx))
		cancel()
	}
	return errors.Join(errs...)
}

// fsm is the replicated state machine: this example replicates nothing but
// its membership, which Raft keeps itself.
type fsm struct{}

func (fsm) Apply(*raft.Log) any                    { return nil }
func (fsm) Snapshot() (raft.FSMSnapshot, error)    { return snapshot{}, nil }
func (fsm) Restore(rc io.ReadCloser) error         { return rc.Close() }
func (snapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (snapshot) Release()                          {}

type snapshot struct{}
