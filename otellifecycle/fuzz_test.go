package otellifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// hostileReasons are seeds for every fuzz target over reason text.
var hostileReasons = []string{
	"", "timeout", "line1\nline2", "cr\rlf\r\n", "nul\x00byte", "\nREADY=1", "x\nSTOPPING=1\nWATCHDOG=1",
	"\xff\xfe\xfd", "valid ✓ then \xc3", `"},"phase":"ready","nodes":99,"x":{"`, `\u0000 \" \\`,
	"}\n# EOF\nevil{a=\"1\"} 1\n", `state="ready"`, "\u2028\u2029", "<script>alert(1)</script>",
	strings.Repeat("é", 3000), strings.Repeat("a", 1<<20),
}

// FuzzReasonInEveryOutput sends one reason through a tracker wired to
// everything, and checks that no output breaks: the status JSON is valid
// and round-trips; the slog record is one record; span and log attributes
// are bounded valid UTF-8. (The Prometheus exposition has its own fuzz
// target, FuzzReasonInExposition in exporters/promexport, so that this
// module needs no Prometheus client.)
func FuzzReasonInEveryOutput(f *testing.F) {
	ctx := f.Context()
	for _, r := range hostileReasons {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, reason string) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		defer tp.Shutdown(context.Background())
		logs := &memExporter{}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(logs)))
		defer lp.Shutdown(context.Background())
		var slogOut bytes.Buffer
		tr, err := otellifecycle.New(otellifecycle.WithMeterProvider(mp), otellifecycle.WithTracerProvider(tp),
			otellifecycle.WithLoggerProvider(lp), otellifecycle.WithLogger(slog.New(slog.NewJSONHandler(&slogOut, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		slogOut.Reset() // the record of the initial state

		tr.ToFailed(ctx, reason)
		got := tr.Current().Reason
		if len(got) > otellifecycle.MaxReasonBytes || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("stored reason not normalized: %q", got)
		}

		// The status JSON.
		rec := httptest.NewRecorder()
		tr.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cluster/status", nil))
		var doc struct {
			Lifecycle otellifecycle.State `json:"lifecycle"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Lifecycle != tr.Current() {
			t.Fatalf("status does not round-trip (%v): %s", err, rec.Body.Bytes())
		}

		// The metric points: every lifecycle attribute value is a phase; no
		// reason becomes an attribute.
		labels := otellifecycle.AllLabels()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, set := range pointAttributes(m.Data) {
					for _, kv := range set.ToSlice() {
						switch kv.Key {
						case "state", "from", "to", "phase":
							if !slices.Contains(labels, kv.Value.AsString()) {
								t.Fatalf("%s: attribute %s=%q is not a phase", m.Name, kv.Key, kv.Value.AsString())
							}
						}
					}
				}
			}
		}

		// The slog record: one line, valid JSON.
		if lines := bytes.Count(slogOut.Bytes(), []byte("\n")); lines != 1 || !json.Valid(bytes.TrimSpace(slogOut.Bytes())) {
			t.Fatalf("slog wrote %d lines: %q", lines, slogOut.Bytes())
		}

		// Span event and log record attributes.
		check := func(where string, kv attribute.KeyValue) {
			if kv.Value.Type() == attribute.STRING {
				s := kv.Value.AsString()
				if !utf8.ValidString(s) || len(s) > otellifecycle.MaxReasonBytes+len("failed: ") {
					t.Fatalf("%s attribute %s not bounded valid UTF-8 (%d bytes)", where, kv.Key, len(s))
				}
			}
		}
		for _, s := range spans.Ended() {
			for _, e := range s.Events() {
				for _, kv := range e.Attributes {
					check("span event", kv)
				}
			}
		}
		for _, r := range logs.all() {
			r.WalkAttributes(func(kv attribute.KeyValue) bool { check("log record", kv); return true })
		}
	})
}

// pointAttributes are the attribute sets of the points of one metric.
func pointAttributes(data metricdata.Aggregation) []attribute.Set {
	var out []attribute.Set
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	}
	return out
}

// FuzzUnmarshalJSON: never panics; what it accepts is a valid state that
// marshals back to itself.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, seed := range []string{
		`{"phase":"starting"}`, `{"phase":"joining","attempt":1}`, `{"phase":"ready","nodes":3}`,
		`{"phase":"failed","reason":"timeout"}`, `{"phase":"exploded"}`, `{"phase":"ready"}`,
		`{"phase":"ready","nodes":-1}`, `{"phase":"joining","attempt":4294967296}`, `[]`, `null`, `{`,
		`{"phase":"failed","reason":"\ud800"}`, `{"phase":"ready","nodes":1,"phase":"failed"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s otellifecycle.State
		if err := s.UnmarshalJSON(data); err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted %q as an invalid state %#v: %v", data, s, err)
		}
		out, err := s.MarshalJSON()
		if err != nil || !json.Valid(out) {
			t.Fatalf("accepted %q but marshals to %q (%v)", data, out, err)
		}
		var back otellifecycle.State
		if err := back.UnmarshalJSON(out); err != nil || back != s {
			t.Fatalf("%q → %#v → %s → %#v (%v)", data, s, out, back, err)
		}
	})
}
