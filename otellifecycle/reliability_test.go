package otellifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestRedactedStatusKeepsReasonsOutOfHTTPOnly(t *testing.T) {
	ctx := t.Context()
	var logs bytes.Buffer
	rec := &recorder{}
	tr := newTracker(t, otellifecycle.WithRedactedStatus(), otellifecycle.WithSinks(rec),
		otellifecycle.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	srv := serve(t, tr)
	const secret = "dial tcp db-7.internal:5432: password authentication failed"
	tr.ToJoining(ctx, 0)
	tr.ToFailed(ctx, secret)
	for _, path := range []string{"/cluster/status", "/readyz?verbose", "/livez?verbose"} {
		body := do(t, http.MethodGet, srv.URL+path).body
		if strings.Contains(body, "db-7") || !strings.Contains(body, otellifecycle.Redacted) {
			t.Fatalf("GET %s shows the reason: %s", path, body)
		}
	}
	var doc struct {
		Lifecycle otellifecycle.State `json:"lifecycle"`
	}
	if err := json.Unmarshal([]byte(do(t, http.MethodGet, srv.URL+"/cluster/status").body), &doc); err != nil ||
		doc.Lifecycle != otellifecycle.FailedState(otellifecycle.Redacted) {
		t.Fatalf("redacted status %+v, %v", doc.Lifecycle, err)
	}
	// Everything else keeps the reason.
	if tr.Current().Reason != secret || !strings.Contains(logs.String(), "db-7") {
		t.Fatal("the reason was redacted beyond HTTP")
	}
	_ = tr.Close()
	if got := rec.transitions(); got[len(got)-1].To.Reason != secret {
		t.Fatal("a sink got a redacted reason")
	}
}

// A status body is bounded whatever the reasons: the history bound times
// the largest entry, which bounded reasons keep small.
func TestStatusBodyIsBounded(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	srv := serve(t, tr)
	huge := strings.Repeat(`"\u2028<>&`+"\x01", 1<<16)
	for i := range 3 * otellifecycle.DefaultHistory {
		tr.ToFailed(ctx, fmt.Sprint(i, huge))
	}
	body := do(t, http.MethodGet, srv.URL+"/cluster/status").body
	// Per entry: two states and a detail, each reason at most
	// MaxReasonBytes and at most 6 bytes of JSON per byte (\u00XX), plus
	// the fixed fields.
	perEntry := 3*6*otellifecycle.MaxReasonBytes + 512
	if bound := (otellifecycle.DefaultHistory + 1) * perEntry; len(body) > bound {
		t.Fatalf("status body of %d bytes, bound %d", len(body), bound)
	}
	if !json.Valid([]byte(body)) {
		t.Fatal("invalid JSON")
	}
}

// Close may race anything: transitions, collections, HTTP requests,
// waiters and subscribers. Nothing panics, races or leaks (TestMain).
func TestCloseDuringEverything(t *testing.T) {
	ctx := t.Context()
	for round := range 20 {
		tr, reader := metricsTracker(t, otellifecycle.WithSinks(&recorder{}), otellifecycle.WithCloseTimeout(time.Second))
		srv := httptest.NewServer(tr.StatusHandler())
		var wg sync.WaitGroup
		stop := make(chan struct{})
		loop := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 2000; i++ {
					select {
					case <-stop:
						return
					default:
						f()
					}
				}
			}()
		}
		for g := range 4 {
			loop(func() { tr.ToJoining(ctx, uint32(g)) })
		}
		loop(func() {
			var rm metricdata.ResourceMetrics
			_ = reader.Collect(ctx, &rm)
		})
		loop(func() {
			if res, err := http.Get(srv.URL); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
		loop(func() {
			wctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			_, _ = tr.WaitReady(wctx)
			cancel()
		})
		loop(func() {
			_, cancel := tr.Subscribe(1)
			cancel()
		})
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		srv.Close()
	}
}

// Under load, every reader still gets the truth: 8 goroutines make
// 1,000,000 transitions while collections and hundreds of concurrent HTTP
// requests run.
func TestLoadMillionTransitions(t *testing.T) {
	ctx := t.Context()
	const goroutines, total, clients, perClient = 8, 1_000_000, 200, 25
	var seqs []uint64
	var mu sync.Mutex
	sink := otellifecycle.SinkFunc(func(_ context.Context, tr otellifecycle.Transition) error {
		mu.Lock()
		seqs = append(seqs, tr.Seq)
		mu.Unlock()
		return nil
	})
	tr, reader := metricsTracker(t, otellifecycle.WithSinks(sink), otellifecycle.WithSinkQueue(4096))
	mux := http.NewServeMux()
	mux.Handle("/cluster/status", tr.StatusHandler())
	mux.Handle("/readyz", tr.ReadyHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var made atomic.Int64
	var work, side sync.WaitGroup
	done := make(chan struct{})
	for g := range goroutines {
		work.Add(1)
		go func() {
			defer work.Done()
			for i := range total / goroutines {
				_ = tr.Set(ctx, writersState(g, i))
				made.Add(1)
			}
		}()
	}
	side.Add(1)
	go func() { // collections, each one-hot
		defer side.Done()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			ones := 0
			for _, dp := range collect(t, reader)["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64]).DataPoints {
				ones += int(dp.Value)
			}
			if ones != 1 {
				t.Errorf("collection %d: %d labels at 1", n, ones)
				return
			}
		}
	}()
	for c := range clients { // bounded: perClient requests each
		side.Add(1)
		go func() {
			defer side.Done()
			for i := range perClient {
				path := "/cluster/status"
				if (c+i)%2 == 1 {
					path = "/readyz"
				}
				res, err := client.Get(srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if err := wellFormed(path, res.StatusCode, body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	work.Wait()
	close(done)
	side.Wait()
	var counted int64
	for _, dp := range collect(t, reader)["cluster.lifecycle.phase.entries"].Data.(metricdata.Sum[int64]).DataPoints {
		counted += dp.Value
	}
	if counted != total {
		t.Fatalf("phase entries total %d, want %d", counted, total)
	}
	if err := tr.Close(); err != nil { // delivers what the sink has queued
		t.Fatal(err)
	}
	st := tr.Stats()
	if made.Load() != total || st.Transitions != total {
		t.Fatalf("made %d, tracker counts %d", made.Load(), st.Transitions)
	}
	// The sink got the initial state (Seq 0) and every transition in
	// order, except those it was too slow for, which are counted.
	if uint64(len(seqs))+st.SinkDropped != total+1 {
		t.Fatalf("sink got %d, dropped %d, want %d in all", len(seqs), st.SinkDropped, total+1)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("sink out of order at %d: %d after %d", i, seqs[i], seqs[i-1])
		}
	}
	if seqs[len(seqs)-1] != total {
		t.Fatalf("the sink's last Seq is %d, want %d", seqs[len(seqs)-1], total)
	}
	t.Logf("sink got %d transitions, %d dropped", len(seqs), st.SinkDropped)
}

func wellFormed(path string, code int, body []byte) error {
	if path == "/readyz" {
		if code == 200 && string(body) == "ok" || code == 503 && strings.HasPrefix(string(body), "not ready: ") {
			return nil
		}
		return fmt.Errorf("/readyz: %d %q", code, body)
	}
	var doc struct {
		Lifecycle otellifecycle.State `json:"lifecycle"`
		Seq       uint64              `json:"seq"`
		History   []struct {
			Seq uint64 `json:"seq"`
		} `json:"history"`
	}
	if code != 200 {
		return fmt.Errorf("/cluster/status: %d", code)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("/cluster/status: %v: %s", err, body)
	}
	if n := len(doc.History); n > 0 && doc.History[n-1].Seq != doc.Seq {
		return fmt.Errorf("/cluster/status: seq %d but the newest history entry is %d", doc.Seq, doc.History[n-1].Seq)
	}
	return nil
}
