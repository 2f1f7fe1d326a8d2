package otellifecycle_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// serve mounts the handlers at their conventional paths on a real HTTP
// server.
func serve(t *testing.T, tr *otellifecycle.Tracker) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/cluster/status", tr.StatusHandler())
	mux.Handle("/readyz", tr.ReadyHandler())
	mux.Handle("/livez", tr.LiveHandler())
	mux.Handle("/startupz", tr.StartupHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code int
	body string
	hdr  http.Header
}

func do(t *testing.T, method, url string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, string(b), res.Header}
}

func TestStatusBodyIsExact(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t,
		otellifecycle.WithClock(stepClock(250*time.Millisecond)),
		otellifecycle.WithAttributes(attribute.String("node.id", "n1"), attribute.Int("shard", 7)))
	srv := serve(t, tr)
	tr.ToJoining(ctx, 0)
	tr.ToFailed(ctx, `peer said "no" <b>`)
	tr.ToJoining(ctx, 1)

	r := do(t, http.MethodGet, srv.URL+"/cluster/status")
	want := `{"lifecycle":{"phase":"joining","attempt":1},"seq":3,"since":"2026-11-27T10:00:00.75Z",` +
		`"attributes":{"node.id":"n1","shard":7},"history":[` +
		`{"seq":1,"from":{"phase":"starting"},"to":{"phase":"joining","attempt":0},"detail":"joining cluster (attempt 0)","at":"2026-11-27T10:00:00.25Z","in_phase_seconds":0.25},` +
		`{"seq":2,"from":{"phase":"joining","attempt":0},"to":{"phase":"failed","reason":"peer said \"no\" <b>"},"detail":"failed: peer said \"no\" <b>","at":"2026-11-27T10:00:00.5Z","in_phase_seconds":0.25},` +
		`{"seq":3,"from":{"phase":"failed","reason":"peer said \"no\" <b>"},"to":{"phase":"joining","attempt":1},"detail":"joining cluster (attempt 1)","at":"2026-11-27T10:00:00.75Z","in_phase_seconds":0.25}]}` + "\n"
	if r.code != http.StatusOK || r.body != want {
		t.Fatalf("GET /cluster/status = %d\n%s\nwant\n%s", r.code, r.body, want)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var doc struct {
		Lifecycle otellifecycle.State `json:"lifecycle"`
		History   []struct {
			To otellifecycle.State `json:"to"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("status is not valid JSON: %v", err)
	}
	if doc.Lifecycle != tr.Current() || doc.History[1].To != otellifecycle.FailedState(`peer said "no" <b>`) {
		t.Fatalf("status does not round-trip: %+v", doc)
	}
}

func TestStatusOfAFreshTracker(t *testing.T) {
	tr := newTracker(t, otellifecycle.WithClock(stepClock(time.Second)))
	r := do(t, http.MethodGet, serve(t, tr).URL+"/cluster/status")
	want := `{"lifecycle":{"phase":"starting"},"seq":0,"since":"2026-11-27T10:00:00Z","attributes":{},"history":[]}` + "\n"
	if r.body != want {
		t.Fatalf("body %s, want %s", r.body, want)
	}
}

func TestProbesAnswerByPhase(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	srv := serve(t, tr)
	type want struct {
		code int
		body string
	}
	check := func(path string, w want) {
		t.Helper()
		r := do(t, http.MethodGet, srv.URL+path)
		if r.code != w.code || r.body != w.body {
			t.Fatalf("GET %s in %v = %d %q, want %d %q", path, tr.Current(), r.code, r.body, w.code, w.body)
		}
		if ct := r.hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Fatalf("Content-Type = %q", ct)
		}
	}
	tr.ToJoining(ctx, 2)
	check("/readyz", want{503, "not ready: joining"})
	check("/readyz?verbose", want{503, "[-]lifecycle not ready: joining cluster (attempt 2)\nreadyz check failed\n"})
	check("/livez", want{200, "ok"})
	check("/livez?verbose=1&x=<script>", want{200, "[+]lifecycle ok: joining cluster (attempt 2)\nlivez check passed\n"})
	tr.ToReady(ctx, 3)
	check("/readyz", want{200, "ok"})
	check("/readyz?verbose", want{200, "[+]lifecycle ok: ready (3 nodes)\nreadyz check passed\n"})
	check("/readyz?foo=bar", want{200, "ok"})
	tr.ToFailed(ctx, "disk\nREADY=1")
	check("/readyz", want{503, "not ready: failed"})
	check("/livez", want{503, "not live: failed"})
	check("/livez?verbose", want{503, "[-]lifecycle not live: failed: disk READY=1\nlivez check failed\n"})
}

// A startup probe fails until the node has been Ready once and passes from
// then on, whatever follows: Kubernetes stops asking once it passed, and
// a slow join must not be killed by the liveness probe meanwhile.
func TestStartupProbePassesFromTheFirstReadyOn(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	srv := serve(t, tr)
	check := func(path string, code int, body string) {
		t.Helper()
		if r := do(t, http.MethodGet, srv.URL+path); r.code != code || r.body != body {
			t.Fatalf("GET %s in %v = %d %q, want %d %q", path, tr.Current(), r.code, r.body, code, body)
		}
	}
	check("/startupz", 503, "not started: starting")
	tr.ToJoining(ctx, 7)
	check("/startupz", 503, "not started: joining")
	check("/startupz?verbose", 503, "[-]lifecycle not started: joining cluster (attempt 7)\nstartupz check failed\n")
	tr.ToFailed(ctx, "seeds unreachable") // failed before it ever started
	check("/startupz", 503, "not started: failed")
	tr.ToReady(ctx, 3)
	check("/startupz", 200, "ok")
	tr.ToFailed(ctx, "leader lost")
	check("/startupz", 200, "ok")
	check("/startupz?verbose", 200, "[+]lifecycle ok: failed: leader lost\nstartupz check passed\n")
	tr.ToRestarting(ctx)
	check("/startupz", 200, "ok")
}

func TestLivenessIsConfigurable(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t, otellifecycle.WithLiveness(func(s otellifecycle.State) bool { return s.Phase != otellifecycle.Stopping }))
	srv := serve(t, tr)
	tr.ToFailed(ctx, "x")
	if r := do(t, http.MethodGet, srv.URL+"/livez"); r.code != 200 {
		t.Fatalf("Failed with a custom liveness: %d", r.code)
	}
	tr.ToStopping(ctx)
	if r := do(t, http.MethodGet, srv.URL+"/livez"); r.code != 503 || r.body != "not live: stopping" {
		t.Fatalf("Stopping with a custom liveness: %d %q", r.code, r.body)
	}
}

func TestHandlersAnswerHEADAndRefuseOtherMethods(t *testing.T) {
	tr := newTracker(t)
	srv := serve(t, tr)
	for _, path := range []string{"/cluster/status", "/readyz", "/livez", "/startupz"} {
		get := do(t, http.MethodGet, srv.URL+path)
		head := do(t, http.MethodHead, srv.URL+path)
		if head.code != get.code || head.body != "" || head.hdr.Get("Content-Length") != get.hdr.Get("Content-Length") ||
			head.hdr.Get("Content-Type") != get.hdr.Get("Content-Type") {
			t.Fatalf("HEAD %s = %d %q %v; GET = %d %v", path, head.code, head.body, head.hdr, get.code, get.hdr)
		}
		for _, h := range []response{get, head} {
			if h.hdr.Get("X-Content-Type-Options") != "nosniff" || h.hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s headers: %v", path, h.hdr)
			}
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "BREW"} {
			r := do(t, m, srv.URL+path)
			if r.code != http.StatusMethodNotAllowed || r.hdr.Get("Allow") != "GET, HEAD" || strings.Contains(r.body, "BREW") {
				t.Fatalf("%s %s = %d Allow=%q %q", m, path, r.code, r.hdr.Get("Allow"), r.body)
			}
		}
	}
}

func TestStatusStaysValidJSONWithHostileReasons(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	srv := serve(t, tr)
	for _, reason := range []string{"\xff\xfe", "\x00\x01\x1f", `"}],"x":{"`, "\u2028\u2029", strings.Repeat("☃", 5000)} {
		tr.ToFailed(ctx, reason)
		r := do(t, http.MethodGet, srv.URL+"/cluster/status")
		if !json.Valid([]byte(r.body)) {
			t.Fatalf("reason %q broke the JSON: %s", reason, r.body)
		}
	}
}

// An attribute JSON cannot hold (a NaN float) is shown as text; the
// document stays valid JSON and the endpoint 200.
func TestStatusShowsAttributesJSONCannotHoldAsText(t *testing.T) {
	tr := newTracker(t, otellifecycle.WithAttributes(attribute.Float64("load", math.NaN()), attribute.Float64("weight", 0.5)))
	rec := httptest.NewRecorder()
	tr.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cluster/status", nil))
	var doc struct {
		Attributes map[string]any `json:"attributes"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if doc.Attributes["load"] != "NaN" || doc.Attributes["weight"] != 0.5 {
		t.Fatalf("attributes %v", doc.Attributes)
	}
}
