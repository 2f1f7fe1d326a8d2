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
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// originBackoff is the origin's join backoff: attempt n sleeps
// originBackoff[n] before it tries.
var originBackoff = []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// config describes one node.
type config struct {
	ID           string
	Listen       string          // host:port this node serves on and is known by
	Listener     net.Listener    // when set, served instead of listening on Listen
	Seeds        []string        // host:port of the seed nodes; the lowest bootstraps
	Backoff      []time.Duration // one entry per join attempt
	Pings        int             // how often the bootstrapper probes the other seeds first
	PingInterval time.Duration
	RejoinAfter  time.Duration // after Failed, start over this much later (0: stay Failed)
	Setup        []otelsetup.Option
	Logger       *slog.Logger
	Sinks        []otellifecycle.Sink
}

// node is one member of the toy cluster. The protocol is deliberately
// small: the lowest seed bootstraps and leads; the others POST /cluster/join
// to any seed and are redirected to the leader, which answers with the
// member list and pushes every new list to the members.
type node struct {
	cfg       config
	tracker   *otellifecycle.Tracker
	providers *otelsetup.Providers
	prom      *promexport.Exporter
	client    *http.Client
	srv       *http.Server
	lis       net.Listener
	log       *slog.Logger

	// mu guards the membership and orders the Ready transitions made
	// from it, so an older member list can never overwrite a newer one.
	mu      sync.Mutex
	leader  string   // the leader's address, once known
	members []string // addresses, sorted; kept by the leader, pushed to members
	epoch   uint64   // the leader's version of members
	rejoin  chan struct{}
}

type joinRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

type memberList struct {
	Leader  string   `json:"leader"`
	Members []string `json:"members"`
	Epoch   uint64   `json:"epoch"`
}

type pingReply struct {
	ID     string `json:"id"`
	Phase  string `json:"phase"`
	Leader string `json:"leader"`
}

const maxBody = 4096

func newNode(ctx context.Context, cfg config) (*node, error) {
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = originBackoff
	}
	if cfg.Pings == 0 {
		cfg.Pings = 10
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lis := cfg.Listener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("node %s: %w", cfg.ID, err)
		}
	}
	var err error
	n := &node{cfg: cfg, lis: lis, log: cfg.Logger, rejoin: make(chan struct{}, 1)}
	if n.prom, err = promexport.New(); err != nil {
		lis.Close()
		return nil, err
	}
	setup := append([]otelsetup.Option{
		otelsetup.WithServiceName("cluster-node"),
		otelsetup.WithInstanceID(cfg.ID),
		// The console is for people: one log line per transition. Spans
		// go where OTEL_TRACES_EXPORTER says (console, otlp), nowhere by
		// default; metrics on this node's own /metrics, and wherever
		// OTEL_METRICS_EXPORTER says besides.
		otelsetup.WithDefaultTraceExporter(otelsetup.None),
		otelsetup.WithDefaultMetricExporter(otelsetup.None),
		otelsetup.WithDefaultLogExporter(otelsetup.None),
		otelsetup.WithPrometheus(n.prom),
	}, cfg.Setup...)
	if n.providers, err = otelsetup.Setup(ctx, setup...); err != nil {
		lis.Close()
		return nil, err
	}
	n.tracker, err = otellifecycle.New(append(n.providers.TrackerOptions(),
		otellifecycle.WithAttributes(attribute.String("node.id", cfg.ID)),
		otellifecycle.WithLogger(cfg.Logger),
		otellifecycle.WithSinks(cfg.Sinks...))...)
	if err != nil {
		lis.Close()
		_ = n.providers.Shutdown(ctx)
		return nil, err
	}
	prop := otelhttp.WithPropagators(propagation.TraceContext{})
	// The cluster's own heartbeats and scrapes are not traced: a ping every
	// 200 ms would bury the joins that are.
	quiet := otelhttp.WithFilter(func(r *http.Request) bool {
		return r.URL.Path != "/cluster/ping" && r.URL.Path != "/metrics"
	})
	tp := otelhttp.WithTracerProvider(n.providers.Tracer)
	mp := otelhttp.WithMeterProvider(n.providers.Meter)
	n.client = &http.Client{Timeout: 2 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport, prop, tp, mp, quiet)}

	mux := http.NewServeMux()
	mux.Handle("/cluster/status", n.tracker.StatusHandler())
	mux.Handle("/readyz", n.tracker.ReadyHandler())
	mux.Handle("/livez", n.tracker.LiveHandler())
	mux.Handle("/startupz", n.tracker.StartupHandler())
	mux.Handle("/metrics", n.prom.Handler())
	mux.HandleFunc("GET /cluster/ping", n.handlePing)
	mux.HandleFunc("POST /cluster/join", n.handleJoin)
	mux.HandleFunc("POST /cluster/members", n.handleMembers)
	mux.HandleFunc("POST /admin/fail", n.handleFail)
	mux.HandleFunc("POST /admin/rejoin", n.handleRejoin)
	n.srv = &http.Server{
		Handler:           otelhttp.NewHandler(mux, "cluster-node", prop, tp, mp, quiet),
		ReadHeaderTimeout: 5 * time.Second,
	}
	return n, nil
}

// addr is the address other nodes know this one by.
func (n *node) addr() string { return n.cfg.Listen }

// run serves and drives the lifecycle until ctx ends, then drains, stops
// and flushes.
func (n *node) run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- n.srv.Serve(n.lis) }()
	lifeDone := make(chan struct{})
	go func() {
		defer close(lifeDone)
		n.lifecycle(ctx)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	<-lifeDone
	return errors.Join(err, n.stop())
}

// stop is the shutdown sequence: Draining, Stopping, flush, close.
func (n *node) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.tracker.ToDraining(ctx)
	n.tracker.ToStopping(ctx)
	// Stop serving: in-flight requests get a second, then connections close.
	sctx, scancel := context.WithTimeout(ctx, time.Second)
	defer scancel()
	if err := n.srv.Shutdown(sctx); err != nil {
		_ = n.srv.Close()
	}
	// The tracker first: it ends its open spans and flushes its final
	// state; then the providers export what is left and stop.
	closeErr := n.tracker.Close()
	return errors.Join(closeErr, n.providers.Shutdown(ctx))
}

// lifecycle forms or joins the cluster; after a failure it starts over
// when asked (POST /admin/rejoin) or after RejoinAfter.
func (n *node) lifecycle(ctx context.Context) {
	for {
		if err := n.form(ctx); err != nil && ctx.Err() == nil {
			n.tracker.ToFailed(ctx, err.Error())
		}
		var later <-chan time.Time
		if n.cfg.RejoinAfter > 0 && n.tracker.Current().Phase == otellifecycle.Failed {
			later = time.After(n.cfg.RejoinAfter)
		}
		select {
		case <-ctx.Done():
			return
		case <-n.rejoin:
		case <-later:
		}
	}
}

// form bootstraps when this node is the lowest seed and no other seed
// knows a cluster; otherwise it joins.
func (n *node) form(ctx context.Context) error {
	seeds := slices.Sorted(slices.Values(n.cfg.Seeds))
	if len(seeds) > 0 && seeds[0] == n.addr() {
		leader, err := n.probe(ctx, seeds[1:])
		if err != nil {
			return err
		}
		if leader == "" || leader == n.addr() {
			return n.bootstrap(ctx)
		}
	}
	return n.join(ctx, seeds)
}

// probe asks the other seeds, up to Pings times, whether one knows a
// leader (like the origin, which pings before it bootstraps).
func (n *node) probe(ctx context.Context, others []string) (string, error) {
	for range n.cfg.Pings {
		for _, s := range others {
			var reply pingReply
			if err := n.call(ctx, http.MethodGet, s, "/cluster/ping", nil, &reply); err == nil && reply.Leader != "" {
				return reply.Leader, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(n.cfg.PingInterval):
		}
	}
	return "", nil
}

func (n *node) bootstrap(ctx context.Context) error {
	n.tracker.ToBootstrapping(ctx)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leader = n.addr()
	if !slices.Contains(n.members, n.addr()) {
		n.members = append(n.members, n.addr())
		slices.Sort(n.members)
		n.epoch++
	}
	n.tracker.ToReady(ctx, len(n.members))
	return nil
}

// join tries the seeds with the configured backoff, one Joining attempt
// per entry, and fails with the last error.
func (n *node) join(ctx context.Context, seeds []string) error {
	var last error
	for attempt, wait := range n.cfg.Backoff {
		n.tracker.ToJoining(ctx, uint32(attempt))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		// The join request is a child of this attempt's phase span, and
		// carries its trace context to the seed.
		pctx := n.tracker.ContextWithPhase(ctx)
		for _, s := range seeds {
			if s == n.addr() {
				continue
			}
			var ml memberList
			err := n.call(pctx, http.MethodPost, s, "/cluster/join", joinRequest{ID: n.cfg.ID, Addr: n.addr()}, &ml)
			if err == nil {
				n.mu.Lock()
				n.adopt(ml)
				n.tracker.ToReady(ctx, len(n.members))
				n.mu.Unlock()
				return nil
			}
			last = err
		}
	}
	if last == nil {
		last = errors.New("no seed to join")
	}
	return fmt.Errorf("no seed accepted the join after %d attempts: %w", len(n.cfg.Backoff), last)
}

// adopt takes a member list unless a newer one is already known. n.mu is
// held.
func (n *node) adopt(ml memberList) {
	if ml.Epoch > n.epoch {
		n.leader, n.members, n.epoch = ml.Leader, ml.Members, ml.Epoch
	}
}

// call sends a JSON request to a peer and decodes a JSON answer. Redirects
// (to the leader) are followed by the client.
func (n *node) call(ctx context.Context, method, peer, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+peer+path, rd)
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
		return fmt.Errorf("%s %s: %s: %s", method, peer+path, res.Status, bytes.TrimSpace(msg))
	}
	return json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(out)
}

func (n *node) handlePing(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	reply := pingReply{ID: n.cfg.ID, Phase: n.tracker.Current().Label()}
	if n.tracker.IsReady() {
		reply.Leader = n.leader
	}
	n.mu.Unlock()
	writeJSON(w, reply)
}

// handleJoin admits a node (on the leader) or redirects it to the leader.
func (n *node) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil || req.Addr == "" {
		http.Error(w, "bad join request", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	leader, ready := n.leader, n.tracker.IsReady()
	if !ready || leader == "" {
		n.mu.Unlock()
		http.Error(w, "no cluster here yet", http.StatusServiceUnavailable)
		return
	}
	if leader != n.addr() {
		n.mu.Unlock()
		http.Redirect(w, r, "http://"+leader+"/cluster/join", http.StatusTemporaryRedirect)
		return
	}
	if !slices.Contains(n.members, req.Addr) {
		n.members = append(n.members, req.Addr)
		slices.Sort(n.members)
		n.epoch++
	}
	ml := memberList{Leader: leader, Members: slices.Clone(n.members), Epoch: n.epoch}
	n.tracker.ToReady(r.Context(), len(ml.Members))
	n.mu.Unlock()
	writeJSON(w, ml)
	go n.push(context.WithoutCancel(r.Context()), ml, req.Addr)
}

// push sends the member list to every member but this node and the new
// one (which got it in the answer).
func (n *node) push(ctx context.Context, ml memberList, joined string) {
	for _, m := range ml.Members {
		if m == n.addr() || m == joined {
			continue
		}
		var ok struct{}
		if err := n.call(ctx, http.MethodPost, m, "/cluster/members", ml, &ok); err != nil {
			n.log.Warn("member list not delivered", "node.id", n.cfg.ID, "to", m, "error", err)
		}
	}
}

func (n *node) handleMembers(w http.ResponseWriter, r *http.Request) {
	var ml memberList
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&ml); err != nil {
		http.Error(w, "bad member list", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.adopt(ml)
	if n.tracker.IsReady() { // a node still joining takes the size from its join answer
		n.tracker.ToReady(r.Context(), len(n.members))
	}
	n.mu.Unlock()
	writeJSON(w, struct{}{})
}

// handleFail forces Failed, as a crash of the node's cluster layer would;
// the body is the reason. For demos and the end-to-end test.
func (n *node) handleFail(w http.ResponseWriter, r *http.Request) {
	reason, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if len(reason) == 0 {
		reason = []byte("failed by operator")
	}
	n.tracker.ToFailed(r.Context(), string(reason))
	writeJSON(w, struct{}{})
}

// handleRejoin starts the lifecycle over after a failure.
func (n *node) handleRejoin(w http.ResponseWriter, _ *http.Request) {
	if n.tracker.Current().Phase != otellifecycle.Failed {
		http.Error(w, "only a failed node rejoins", http.StatusConflict)
		return
	}
	select {
	case n.rejoin <- struct{}{}:
	default:
	}
	writeJSON(w, struct{}{})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
