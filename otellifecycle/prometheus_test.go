package otellifecycle_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// scrape serves a tracker's metrics through the real OpenTelemetry
// Prometheus exporter and promhttp, and parses what a scrape returns.
func scrape(t *testing.T, opts ...otellifecycle.Option) (*otellifecycle.Tracker, func() map[string]*dto.MetricFamily) {
	t.Helper()
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	tr := newTracker(t, append([]otellifecycle.Option{otellifecycle.WithMeterProvider(mp)}, opts...)...)
	return tr, func() map[string]*dto.MetricFamily {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept", "text/plain; version=0.0.4")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(res.Body)
		if err != nil {
			t.Fatalf("exposition does not parse: %v", err)
		}
		return mfs
	}
}

// states maps each value of label key in family name to its gauge value.
func states(t *testing.T, mfs map[string]*dto.MetricFamily, name, key string) map[string]float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no %s in the exposition", name)
	}
	if mf.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("%s is a %v, want a gauge", name, mf.GetType())
	}
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == key {
				out[lp.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestPrometheusExpositionIsOneHot(t *testing.T) {
	ctx := t.Context()
	tr, get := scrape(t, otellifecycle.WithAttributes(attribute.String("node_id", "n1")))
	tr.ToJoining(ctx, 1)
	tr.ToReady(ctx, 3)
	mfs := get()
	got := states(t, mfs, "cluster_lifecycle_state", "state")
	for _, l := range otellifecycle.AllLabels() {
		want := 0.0
		if l == "ready" {
			want = 1
		}
		if v, ok := got[l]; !ok || v != want {
			t.Errorf(`cluster_lifecycle_state{state=%q} = %v (present %v), want %v`, l, v, ok, want)
		}
	}
	for _, m := range mfs["cluster_lifecycle_state"].GetMetric() {
		found := false
		for _, lp := range m.GetLabel() {
			found = found || lp.GetName() == "node_id" && lp.GetValue() == "n1"
		}
		if !found {
			t.Fatalf("series without node_id: %v", m.GetLabel())
		}
	}
	for name, typ := range map[string]dto.MetricType{
		"cluster_lifecycle_transitions_total":      dto.MetricType_COUNTER,
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

// The entry counter reaches Prometheus as a counter with every phase at 0
// before the first transition, so the first failure is an increase().
func TestPrometheusPhaseEntriesStartAtZero(t *testing.T) {
	ctx := t.Context()
	tr, get := scrape(t)
	counts := func() map[string]float64 {
		mf, ok := get()["cluster_lifecycle_phase_entries_total"]
		if !ok || mf.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("cluster_lifecycle_phase_entries_total: present %v, type %v", ok, mf.GetType())
		}
		out := map[string]float64{}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "phase" {
					out[lp.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	before := counts()
	if len(before) != 8 {
		t.Fatalf("before any transition: %v, want all 8 phases", before)
	}
	for l, v := range before {
		if v != 0 {
			t.Fatalf(`cluster_lifecycle_phase_entries_total{phase=%q} = %v before any transition`, l, v)
		}
	}
	tr.ToFailed(ctx, "brief")
	tr.ToJoining(ctx, 0)
	if after := counts(); after["failed"] != 1 || after["joining"] != 1 || after["ready"] != 0 {
		t.Fatalf("after a failure: %v", after)
	}
}

// With the origin's metric name, dashboards built on nodedb_cluster_state
// keep working.
func TestPrometheusOriginMetricName(t *testing.T) {
	ctx := t.Context()
	tr, get := scrape(t, otellifecycle.WithMetricName("nodedb.cluster.state"))
	tr.ToBootstrapping(ctx)
	got := states(t, get(), "nodedb_cluster_state", "state")
	if len(got) != 8 || got["bootstrapping"] != 1 || got["starting"] != 0 {
		t.Fatalf("nodedb_cluster_state = %v", got)
	}
}

// A reason is never a label: whatever it holds, the exposition parses and
// carries no series that mentions it.
func TestPrometheusExpositionSurvivesHostileReasons(t *testing.T) {
	ctx := t.Context()
	tr, get := scrape(t)
	tr.ToFailed(ctx, "}\n# EOF\nevil{a=\"1\"} 1\n\xff")
	mfs := get()
	if _, ok := mfs["evil"]; ok {
		t.Fatal("a reason injected a series")
	}
	if got := states(t, mfs, "cluster_lifecycle_state", "state"); got["failed"] != 1 {
		t.Fatalf("states %v", got)
	}
}
