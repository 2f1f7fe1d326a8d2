package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// maxBody bounds what the node reads of a request or a reply.
const maxBody = 4096

type joinRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"` // Raft address
}

// serve starts the node's servers on its listeners: HTTP (the tracker's
// endpoints, /metrics and /cluster/join), gRPC health and the admin
// endpoints when they were asked for. Joins are traced, from the joiner's
// attempt to the seed's handler; probes and scrapes are not: they would
// bury the joins.
func (n *node) serve() {
	prop := otelhttp.WithPropagators(propagation.TraceContext{})
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
}

// askSeeds is the join function lifecycleraft's Join calls once per
// attempt: it asks the seeds (HTTP host:port, this node's own skipped) in
// turn to add this node, and only the leader says yes.
func (n *node) askSeeds(seeds []string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		body, err := json.Marshal(joinRequest{ID: n.cfg.ID, Addr: string(n.raftAddr())})
		if err != nil {
			return err
		}
		// The request is a child of this attempt's phase span and carries
		// its trace context to the seed.
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
	}
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
