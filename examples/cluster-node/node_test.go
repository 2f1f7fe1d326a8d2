package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

var fast = []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond,
	160 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond, 1280 * time.Millisecond}

type cluster struct {
	nodes []*node
	spans *tracetest.SpanRecorder
	wg    sync.WaitGroup
}

// listeners opens n loopback listeners, so every node's address is known
// before any starts.
func listeners(t *testing.T, n int) ([]net.Listener, []string) {
	var ls []net.Listener
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return ls, addrs
}

func testConfig(id string, l net.Listener, seeds []string, rec *tracetest.SpanRecorder) config {
	return config{
		ID: id, Listen: l.Addr().String(), Listener: l, Seeds: seeds, Backoff: fast,
		Pings: 3, PingInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Setup: []otelsetup.Option{
			otelsetup.WithDefaultTraceExporter(otelsetup.None),
			otelsetup.WithDefaultMetricExporter(otelsetup.None),
			otelsetup.WithDefaultLogExporter(otelsetup.None),
			otelsetup.WithSpanProcessor(rec),
		},
	}
}

// startCluster starts three nodes, the joiners first and the bootstrapper
// (the lowest seed) a little later, so the joiners must retry.
func startCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	ls, seeds := listeners(t, 3)
	lowest := 0
	for i, a := range seeds {
		if a < seeds[lowest] {
			lowest = i
		}
	}
	c := &cluster{spans: tracetest.NewSpanRecorder()}
	for i, l := range ls {
		n, err := newNode(ctx, testConfig([]string{"n1", "n2", "n3"}[i], l, seeds, c.spans))
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	run := func(n *node) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := n.run(ctx); err != nil {
				t.Errorf("node %s: %v", n.cfg.ID, err)
			}
		}()
	}
	for i, n := range c.nodes {
		if i != lowest {
			run(n)
		}
	}
	time.Sleep(100 * time.Millisecond)
	run(c.nodes[lowest])
	return c
}

func status(t *testing.T, addr string) (otellifecycle.State, int) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/cluster/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Lifecycle otellifecycle.State `json:"lifecycle"`
		History   []json.RawMessage   `json:"history"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Lifecycle, len(doc.History)
}

// eventually polls cond for up to 15 s; on failure it shows state (the
// cluster's nodes and their phases).
func eventually(t *testing.T, what string, cond func() bool, state ...any) {
	t.Helper()
	testsupport.Poll(t, what, 15*time.Second, 10*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("not yet: %v", state)
	})
}

func allReady(c *cluster, size int) func() bool {
	return func() bool {
		for _, n := range c.nodes {
			if n.tracker.Current() != otellifecycle.ReadyState(size) {
				return false
			}
		}
		return true
	}
}

func (c *cluster) String() string {
	var b strings.Builder
	for _, n := range c.nodes {
		b.WriteString(n.cfg.ID + "@" + n.addr() + ": " + n.tracker.Current().String() + "; ")
	}
	return b.String()
}

func TestThreeNodesFormAClusterAndAgreeOverHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startCluster(t, ctx)
	defer func() { cancel(); c.wg.Wait() }()
	eventually(t, "every node Ready{3}", allReady(c, 3), c)
	t.Log(c)
	for _, n := range c.nodes {
		got, _ := status(t, n.addr())
		if got != otellifecycle.ReadyState(3) || got != n.tracker.Current() {
			t.Fatalf("%s: /cluster/status says %v, tracker %v", n.cfg.ID, got, n.tracker.Current())
		}
	}
	// The joiners started first, so they went through more than one attempt.
	retried := false
	for _, n := range c.nodes {
		for _, tr := range n.tracker.History() {
			retried = retried || tr.To.Phase == otellifecycle.Joining && tr.To.Attempt > 0
		}
	}
	if !retried {
		t.Fatal("no node retried its join: the out-of-order start did not show")
	}
}

// Each node serves its own metrics on its own mux, through the one
// Prometheus reader it gives otelsetup.
func TestEachNodeServesItsStateOnMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startCluster(t, ctx)
	defer func() { cancel(); c.wg.Wait() }()
	eventually(t, "every node Ready{3}", allReady(c, 3), c)
	for _, n := range c.nodes {
		res, err := http.Get("http://" + n.addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var series, ready int
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, "cluster_lifecycle_state{") && strings.Contains(line, `node_id="`+n.cfg.ID+`"`) {
				series++
				if strings.Contains(line, `state="ready"`) && strings.HasSuffix(line, "} 1\n") {
					ready++
				}
			}
		}
		if series != len(otellifecycle.Phases()) || ready != 1 {
			t.Fatalf("%s: %d state series, %d ready=1 in\n%s", n.cfg.ID, series, ready, body)
		}
	}
}

// A join request carries its trace context: the leader's server span is in
// the joiner's trace, under the joiner's Joining phase span.
func TestAJoinTraceSpansTwoNodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startCluster(t, ctx)
	eventually(t, "every node Ready{3}", allReady(c, 3), c)
	cancel()
	c.wg.Wait()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range c.spans.Ended() {
		byID[s.SpanContext().SpanID()] = s
	}
	instance := func(s sdktrace.ReadOnlySpan) string {
		for _, kv := range s.Resource().Attributes() {
			if kv.Key == "service.instance.id" {
				return kv.Value.AsString()
			}
		}
		return ""
	}
	for _, s := range c.spans.Ended() {
		if s.SpanKind() != trace.SpanKindServer || !s.Parent().IsRemote() {
			continue
		}
		client, ok := byID[s.Parent().SpanID()]
		if !ok || instance(client) == instance(s) {
			continue
		}
		phase, ok := byID[client.Parent().SpanID()]
		if ok && phase.Name() == "cluster.lifecycle.joining" && instance(phase) == instance(client) {
			return // server span on one node, client and phase span on another, one trace
		}
	}
	t.Fatal("no join trace crosses two nodes under a joining phase span")
}

func TestANodeWhoseSeedsAreDownEndsFailedWithAReason(t *testing.T) {
	ls, _ := listeners(t, 1)
	gone, dead := listeners(t, 2)
	for _, l := range gone {
		l.Close() // nothing listens on the seeds' ports any more
	}
	cfg := testConfig("lonely", ls[0], dead, tracetest.NewSpanRecorder())
	cfg.Backoff = fast[:3]
	ctx, cancel := context.WithCancel(context.Background())
	n, err := newNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = n.run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "Failed", func() bool { return n.tracker.Current().Phase == otellifecycle.Failed })
	reason := n.tracker.Current().Reason
	if !strings.Contains(reason, "no seed accepted the join after 3 attempts") {
		t.Fatalf("reason %q", reason)
	}
	if got, _ := status(t, n.addr()); got.Reason != reason {
		t.Fatalf("/cluster/status reason %q", got.Reason)
	}
}

func TestAFailedNodeRejoins(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startCluster(t, ctx)
	defer func() { cancel(); c.wg.Wait() }()
	eventually(t, "every node Ready{3}", allReady(c, 3), c)
	var joiner *node
	for _, n := range c.nodes {
		if n.leader != n.addr() {
			joiner = n
		}
	}
	post(t, joiner.addr(), "/admin/fail", "disk on fire\nREADY=1")
	if got := joiner.tracker.Current(); got != otellifecycle.FailedState("disk on fire READY=1") {
		t.Fatalf("after /admin/fail: %v", got)
	}
	post(t, joiner.addr(), "/admin/rejoin", "")
	eventually(t, "the failed node back to Ready{3}", allReady(c, 3), c)
}

func post(t *testing.T, addr, path, body string) {
	t.Helper()
	res, err := http.Post("http://"+addr+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %s %s", path, res.Status, b)
	}
}
