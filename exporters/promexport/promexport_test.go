package promexport_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

var ctx = context.Background()

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	return scrapeAccepting(t, h, "text/plain; version=0.0.4")
}

func scrapeAccepting(t *testing.T, h http.Handler, accept string) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", accept)
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

func tracked(t *testing.T, opts ...promexport.Option) (*promexport.Exporter, *otellifecycle.Tracker) {
	t.Helper()
	prom, err := promexport.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(ctx) })
	tr, err := otellifecycle.New(otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(attribute.String("node", "n1")),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return prom, tr
}

func value(mf *dto.MetricFamily, label, want string) (float64, bool) {
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == want {
				if g := m.GetGauge(); g != nil {
					return g.GetValue(), true
				}
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestHandlerServesTheTrackersSeriesOnItsOwnRegistry(t *testing.T) {
	prom, tr := tracked(t)
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	mfs := scrape(t, prom.Handler())
	state, ok := mfs["cluster_lifecycle_state"]
	if !ok {
		t.Fatal("no cluster_lifecycle_state")
	}
	if v, ok := value(state, "state", "ready"); !ok || v != 1 {
		t.Fatalf(`cluster_lifecycle_state{state="ready"} = %v (present %v)`, v, ok)
	}
	if _, ok := value(state, "otel_scope_name", otellifecycle.ScopeName); !ok {
		t.Fatal("no otel_scope_name label by default (WithoutScopeInfo's test would prove nothing)")
	}
	if v, ok := value(mfs["cluster_lifecycle_phase_entries_total"], "state", "ready"); !ok || v != 1 {
		t.Fatalf("entries of ready = %v", v)
	}
	if _, ok := mfs["go_goroutines"]; ok {
		t.Fatal("the global registry's collectors leaked into an own registry")
	}
}

func TestNamingOptionsPassThrough(t *testing.T) {
	prom, tr := tracked(t, promexport.WithNamespace("nodedb"), promexport.WithoutScopeInfo())
	tr.ToBootstrapping(ctx)
	mfs := scrape(t, prom.Handler())
	state, ok := mfs["nodedb_cluster_lifecycle_state"]
	if !ok {
		t.Fatalf("no namespaced series in %v", keys(mfs))
	}
	for _, lp := range state.GetMetric()[0].GetLabel() {
		if lp.GetName() == "otel_scope_name" {
			t.Fatal("scope labels present with WithoutScopeInfo")
		}
	}

	prom2, tr2 := tracked(t, promexport.WithTranslationStrategy(otlptranslator.NoTranslation))
	tr2.ToBootstrapping(ctx)
	// UTF-8 names reach a scraper that accepts them (Prometheus 3).
	utf8 := scrapeAccepting(t, prom2.Handler(), "text/plain; version=1.0.0; escaping=allow-utf-8")
	if _, ok := utf8["cluster.lifecycle.state"]; !ok {
		t.Fatalf("NoTranslation did not keep the OpenTelemetry name: %v", keys(utf8))
	}
}

func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "other_total"})
	reg.MustRegister(other)
	prom, tr := tracked(t, promexport.WithRegistry(reg))
	tr.ToBootstrapping(ctx)
	mfs := scrape(t, prom.Handler())
	if _, ok := mfs["other_total"]; !ok {
		t.Fatal("the shared registry's own series are missing")
	}
	if _, ok := mfs["cluster_lifecycle_state"]; !ok {
		t.Fatal("the tracker's series are missing from the shared registry")
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
