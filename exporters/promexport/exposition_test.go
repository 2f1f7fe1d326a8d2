package promexport_test

// The tracker's promises about the Prometheus exposition, tested through
// this package, the real OpenTelemetry Prometheus exporter and promhttp.
// They live in this module, not otellifecycle's, so that the root module
// needs no Prometheus client even for its tests.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	lognoop "go.opentelemetry.io/otel/log/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// trackerOn returns a tracker whose metrics prom exports; it logs nowhere
// and traces nothing.
func trackerOn(t testing.TB, prom *promexport.Exporter, opts ...otellifecycle.Option) *otellifecycle.Tracker {
	t.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tr, err := otellifecycle.New(append([]otellifecycle.Option{
		otellifecycle.WithMeterProvider(mp),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)),
		otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()),
		otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func newExporter(t testing.TB) *promexport.Exporter {
	t.Helper()
	prom, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	return prom
}

// byLabel maps each value of label key in mf to its gauge or counter value.
func byLabel(mf *dto.MetricFamily, key string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == key {
				if g := m.GetGauge(); g != nil {
					out[lp.GetValue()] = g.GetValue()
				} else {
					out[lp.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

func TestPrometheusExpositionIsOneHot(t *testing.T) {
	prom := newExporter(t)
	tr := trackerOn(t, prom, otellifecycle.WithAttributes(attribute.String("node_id", "n1")))
	tr.ToJoining(t.Context(), 1)
	tr.ToReady(t.Context(), 3)
	mfs := scrape(t, prom.Handler())
	state := mfs["cluster_lifecycle_state"]
	if state.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("cluster_lifecycle_state is a %v", state.GetType())
	}
	got := byLabel(state, "state")
	for _, p := range otellifecycle.Phases() {
		want := 0.0
		if p == otellifecycle.Ready {
			want = 1
		}
		if v, ok := got[string(p)]; !ok || v != want {
			t.Errorf(`cluster_lifecycle_state{state=%q} = %v (present %v), want %v`, p, v, ok, want)
		}
	}
	if n := len(byLabel(state, "node_id")); n != 1 {
		t.Fatalf("series without node_id: %d distinct node_id values", n)
	}
	if _, ok := mfs["cluster_lifecycle_transitions_total"]; ok {
		t.Error("cluster_lifecycle_transitions_total is exposed without WithDetailedMetrics")
	}
	for name, typ := range map[string]dto.MetricType{
		"cluster_lifecycle_phase_entries_total":    dto.MetricType_COUNTER,
		"cluster_lifecycle_phase_duration_seconds": dto.MetricType_HISTOGRAM,
		"cluster_lifecycle_nodes":                  dto.MetricType_GAUGE,
	} {
		if mf, ok := mfs[name]; !ok || mf.GetType() != typ {
			t.Errorf("%s: present %v, type %v, want %v", name, ok, mf.GetType(), typ)
		}
	}
	if v := mfs["cluster_lifecycle_nodes"].GetMetric()[0].GetGauge().GetValue(); v != 3 {
		t.Errorf("cluster_lifecycle_nodes = %v", v)
	}
}

// With the origin's metric name, dashboards built on nodedb_cluster_state
// keep working.
func TestPrometheusOriginMetricName(t *testing.T) {
	prom := newExporter(t)
	tr := trackerOn(t, prom, otellifecycle.WithMetricName("nodedb.cluster.state"))
	tr.ToBootstrapping(t.Context())
	got := byLabel(scrape(t, prom.Handler())["nodedb_cluster_state"], "state")
	if len(got) != 8 || got["bootstrapping"] != 1 || got["starting"] != 0 {
		t.Fatalf("nodedb_cluster_state = %v", got)
	}
}

// The entry counter reaches Prometheus as a counter with every phase at 0
// before the first transition, so the first failure is an increase().
func TestPrometheusPhaseEntriesStartAtZero(t *testing.T) {
	prom := newExporter(t)
	tr := trackerOn(t, prom)
	entries := func() map[string]float64 {
		mf, ok := scrape(t, prom.Handler())["cluster_lifecycle_phase_entries_total"]
		if !ok || mf.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("cluster_lifecycle_phase_entries_total: present %v, type %v", ok, mf.GetType())
		}
		return byLabel(mf, "state")
	}
	before := entries()
	if len(before) != 8 {
		t.Fatalf("before any transition: %v, want all 8 phases", before)
	}
	for l, v := range before {
		if v != 0 {
			t.Fatalf(`cluster_lifecycle_phase_entries_total{state=%q} = %v before any transition`, l, v)
		}
	}
	tr.ToFailed(t.Context(), "brief")
	tr.ToJoining(t.Context(), 0)
	if after := entries(); after["failed"] != 1 || after["joining"] != 1 || after["ready"] != 0 {
		t.Fatalf("after a failure: %v", after)
	}
}

// A reason is never a label: whatever it holds, the exposition parses and
// carries no series that mentions it.
func TestPrometheusExpositionSurvivesHostileReasons(t *testing.T) {
	prom := newExporter(t)
	tr := trackerOn(t, prom)
	tr.ToFailed(t.Context(), "}\n# EOF\nevil{a=\"1\"} 1\n\xff")
	mfs := scrape(t, prom.Handler())
	if _, ok := mfs["evil"]; ok {
		t.Fatal("a reason injected a series")
	}
	if got := byLabel(mfs["cluster_lifecycle_state"], "state"); got["failed"] != 1 {
		t.Fatalf("states %v", got)
	}
}

// FuzzReasonInExposition: whatever a failure reason holds, the exposition
// parses (scrape fails the test otherwise) and every lifecycle label value
// is a phase: no reason becomes a label or a series.
func FuzzReasonInExposition(f *testing.F) {
	for _, seed := range []string{
		"", "timeout", "line1\nline2", "}\n# EOF\nevil{a=\"1\"} 1\n", `state="ready"`, "\xff\xfe",
		"\u2028\u2029", `"},"phase":"ready"`, strings.Repeat("a", 1<<16),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, reason string) {
		prom := newExporter(t)
		tr := trackerOn(t, prom)
		tr.ToFailed(t.Context(), reason)
		labels := make([]string, 0, 8)
		for _, p := range otellifecycle.Phases() {
			labels = append(labels, string(p))
		}
		for name, mf := range scrape(t, prom.Handler()) {
			if !strings.HasPrefix(name, "cluster_lifecycle_") && name != "target_info" {
				t.Fatalf("unexpected family %q", name)
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					switch lp.GetName() {
					case "state", "from", "to", "phase":
						if !slices.Contains(labels, lp.GetValue()) {
							t.Fatalf("label %s=%q is not a phase", lp.GetName(), lp.GetValue())
						}
					}
				}
			}
		}
	})
}

// originGauge is what the origin does on a transition with
// prometheus/client_golang: every other label to 0, the new one to 1.
type originGauge struct {
	vec    *prometheus.GaugeVec
	labels []string
}

func (o *originGauge) set(label string) {
	for _, l := range o.labels {
		v := 0.0
		if l == label {
			v = 1
		}
		o.vec.WithLabelValues(l).Set(v)
	}
}

// BenchmarkTransitionMetricsOnly: a transition of a tracker that reports
// metrics only (the SDK meter; traces and OpenTelemetry logs off), against
// the origin's GaugeVec one-hot.
func BenchmarkTransitionMetricsOnly(b *testing.B) {
	states := []otellifecycle.State{otellifecycle.JoiningState(1), otellifecycle.ReadyState(3)}
	b.Run("impl=origin-gaugevec", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		o := &originGauge{vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodedb_cluster_state"}, []string{"state"})}
		for _, p := range otellifecycle.Phases() {
			o.labels = append(o.labels, string(p))
		}
		reg.MustRegister(o.vec)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			o.set(states[i&1].Label())
			i++
		}
	})
	b.Run("impl=tracker", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		tr, err := otellifecycle.New(otellifecycle.WithMeterProvider(mp), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)),
			otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()), otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Close() })
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = tr.Set(b.Context(), states[i&1])
			i++
		}
	})
}

// BenchmarkPrometheusScrape: a scrape through promhttp and the OTel
// Prometheus exporter of a group of n trackers, with its size.
func BenchmarkPrometheusScrape(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("trackers=%d", n), func(b *testing.B) {
			prom := newExporter(b)
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			g, err := otellifecycle.NewGroup(otellifecycle.WithMeterProvider(mp))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = g.Close() })
			for i := range n {
				tr, err := otellifecycle.New(otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.Int("shard", i)),
					otellifecycle.WithLogger(slog.New(slog.DiscardHandler)), otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()),
					otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tr.Close() })
			}
			srv := httptest.NewServer(prom.Handler())
			b.Cleanup(srv.Close)
			var size int64
			b.ReportAllocs()
			for b.Loop() {
				res, err := http.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				size, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}
