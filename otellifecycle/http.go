package otellifecycle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// The handlers below serve the lifecycle over HTTP. They are plain
// http.Handlers, usable on any mux and at any path. Each answers GET and
// HEAD (same headers, no body) and 405 with "Allow: GET, HEAD" to any other
// method; each sets Content-Type, Cache-Control: no-store and
// X-Content-Type-Options: nosniff. Query strings are ignored, except
// "verbose" on the probes. Nothing from the request is echoed back.

// StatusHandler serves the lifecycle as JSON: the current state under
// "lifecycle", in the form of State.MarshalJSON, with its seq,
// since, attributes and history beside it:
//
//	{"lifecycle":{"phase":"joining","attempt":1},"seq":4,
//	 "since":"2026-11-27T10:00:00.5Z","attributes":{"node.id":"n1"},
//	 "history":[{"seq":4,"from":{…},"to":{…},"detail":"…","at":"…","in_phase_seconds":0.25},…]}
//
// "lifecycle", "seq" and "since" (UTC, RFC 3339) describe the current state;
// "history" holds the recent transitions, oldest first, taken at the same
// instant. It is always 200.
func (t *Tracker) StatusHandler() http.Handler {
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		body, err := t.statusJSON()
		if err != nil { // not for any state or attribute New accepts
			writeBody(w, r, http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("status: "+err.Error()+"\n"))
			return
		}
		writeBody(w, r, http.StatusOK, "application/json", body)
	})
}

// shown is s as the HTTP endpoints may show it (see WithRedactedStatus).
func (t *Tracker) shown(s State) State {
	if t.redact && s.Phase == Failed {
		s.Reason = Redacted
	}
	return s
}

// jsonValue is v as the status document's "attributes" show it: as is,
// unless JSON cannot hold it (a NaN or infinite float), then as text.
func jsonValue(v attribute.Value) any {
	x := v.AsInterface()
	if _, err := json.Marshal(x); err != nil {
		return fmt.Sprint(x)
	}
	return x
}

// statusDoc is the status endpoint's document. Its lifecycle and history
// states are in the form of State.MarshalJSON.
type statusDoc struct {
	Lifecycle  State          `json:"lifecycle"`
	Seq        uint64         `json:"seq"`
	Since      time.Time      `json:"since"`
	Attributes map[string]any `json:"attributes"`
	History    []Transition   `json:"history"`
}

// statusJSON builds the status document from one consistent view.
func (t *Tracker) statusJSON() ([]byte, error) {
	snap, history := t.view()
	// The attributes are built per request, not kept: a status request is
	// rare, and a tracker of a large group would carry the map for nothing.
	attrs := make(map[string]any, len(t.attrs))
	for _, kv := range t.attrs {
		attrs[string(kv.Key)] = jsonValue(kv.Value)
	}
	doc := statusDoc{Lifecycle: t.shown(snap.State), Seq: snap.Seq, Since: snap.Since.UTC(), Attributes: attrs, History: history}
	for i := range history {
		tr := &history[i]
		tr.From, tr.To = t.shown(tr.From), t.shown(tr.To)
		tr.Detail = tr.To.Detail()
	}
	if doc.History == nil {
		doc.History = []Transition{}
	}
	return encodeJSON(doc)
}

// ReadyHandler is a readiness probe (Kubernetes /readyz): 200 "ok" when the
// phase is Ready, else 503 "not ready: <phase>". With ?verbose the body
// names the check and the state's detail:
//
//	[+]lifecycle ok: ready (3 nodes)
//	readyz check passed
func (t *Tracker) ReadyHandler() http.Handler {
	return probe("readyz", "not ready", State.IsReady, t)
}

// LiveHandler is a liveness probe (Kubernetes /livez): 200 "ok" unless the
// phase is Failed (change that with WithLiveness), else 503
// "not live: <phase>". ?verbose works as for ReadyHandler.
func (t *Tracker) LiveHandler() http.Handler {
	return probe("livez", "not live", func(s State) bool { return t.live(s) }, t)
}

// StartupHandler is a startup probe (Kubernetes /startupz): 503
// "not started: <phase>" until the tracker has been Ready once, 200 "ok"
// from then on, whatever the phase. Kubernetes holds the liveness and
// readiness probes until the startup probe passes, so a slow join (a
// large snapshot to install, seeds still coming up) is not killed for
// want of liveness; once started, liveness and readiness take over.
// ?verbose works as for ReadyHandler. It reads two atomics and never locks.
func (t *Tracker) StartupHandler() http.Handler {
	return probe("startupz", "not started", func(s State) bool { return s.IsReady() || t.started.Load() }, t)
}

func probe(name, failure string, pass func(State) bool, t *Tracker) http.Handler {
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		s := t.Current()
		ok := pass(s)
		s = t.shown(s)
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		var body []byte
		switch _, verbose := r.URL.Query()["verbose"]; {
		case verbose && ok:
			body = []byte("[+]lifecycle ok: " + s.Detail() + "\n" + name + " check passed\n")
		case verbose:
			body = []byte("[-]lifecycle " + failure + ": " + s.Detail() + "\n" + name + " check failed\n")
		case ok:
			body = []byte("ok")
		default:
			body = []byte(failure + ": " + s.Label())
		}
		writeBody(w, r, code, "text/plain; charset=utf-8", body)
	})
}

// getOnly answers GET and HEAD with h and everything else with 405.
func getOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeBody(w, r, http.StatusMethodNotAllowed, "text/plain; charset=utf-8", []byte("method not allowed\n"))
			return
		}
		h(w, r)
	})
}

func writeBody(w http.ResponseWriter, r *http.Request, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
