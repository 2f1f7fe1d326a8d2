package promexport_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// exposition returns the text exposition's sample lines whose metric name
// starts with prefix, in order.
func exposition(t *testing.T, h http.Handler, prefix string) []string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			lines = append(lines, line)
		}
	}
	return lines
}

// seriesOf strips the value from a sample line: what is left names the series.
func seriesOf(line string) string { return line[:strings.LastIndexByte(line, ' ')] }

// stepClock starts at a fixed instant and advances by step at every reading.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).Add(-step)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

// fullLife is a node's whole life, twice over: joins retried, a failure, a
// rejoin, a drain and a stop; then a restart on its data, a failure, a
// recovery, a drain and a stop.
var fullLife = []otellifecycle.State{
	otellifecycle.JoiningState(0), otellifecycle.JoiningState(1), otellifecycle.JoiningState(2), otellifecycle.ReadyState(3),
	otellifecycle.FailedState("leader lost"), otellifecycle.JoiningState(0), otellifecycle.ReadyState(3),
	otellifecycle.DrainingState(), otellifecycle.StoppingState(),
	otellifecycle.RestartingState(), otellifecycle.BootstrappingState(), otellifecycle.ReadyState(1), otellifecycle.ReadyState(3),
	otellifecycle.FailedState("disk full"), otellifecycle.ReadyState(3), otellifecycle.DrainingState(), otellifecycle.StoppingState(),
}

// liveSeries scrapes after every step of fullLife and returns every
// cluster_lifecycle_* series any scrape showed: what Prometheus holds for
// the node after its life.
func liveSeries(t *testing.T, opts ...otellifecycle.Option) []string {
	t.Helper()
	prom := newExporter(t)
	tr := trackerOn(t, prom, append(opts, otellifecycle.WithClock(stepClock(3*time.Second)))...)
	seen := map[string]bool{}
	record := func() {
		for _, l := range exposition(t, prom.Handler(), "cluster_lifecycle_") {
			seen[seriesOf(l)] = true
		}
	}
	record()
	for _, s := range fullLife {
		if err := tr.Set(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		record()
	}
	var all []string
	for s := range seen {
		all = append(all, s)
	}
	slices.Sort(all)
	return all
}

// A node's lifecycle costs at most 40 series in Prometheus with the
// default options, over its whole life: the one-hot state (8), the entries
// (8), the payload gauges (2), and the durations of Joining and Failed (11
// each: 8 buckets, +Inf, sum, count). WithDetailedMetrics costs what it
// says.
func TestOneNodesFullLifeCostsAtMost40Series(t *testing.T) {
	lean := liveSeries(t)
	t.Logf("default: %d series", len(lean))
	if len(lean) > 40 {
		t.Errorf("default: %d cluster_lifecycle_* series after a full life, want at most 40:\n%s", len(lean), strings.Join(lean, "\n"))
	}
	families := map[string]int{}
	for _, s := range lean {
		families[s[:strings.IndexByte(s, '{')]]++
	}
	want := map[string]int{
		"cluster_lifecycle_state":                         8,
		"cluster_lifecycle_phase_entries_total":           8,
		"cluster_lifecycle_join_attempt":                  1,
		"cluster_lifecycle_nodes":                         1,
		"cluster_lifecycle_phase_duration_seconds_bucket": 18,
		"cluster_lifecycle_phase_duration_seconds_sum":    2,
		"cluster_lifecycle_phase_duration_seconds_count":  2,
	}
	for f, n := range want {
		if families[f] != n {
			t.Errorf("%s: %d series, want %d", f, families[f], n)
		}
	}
	if len(families) != len(want) {
		t.Errorf("families %v, want exactly %v", families, want)
	}
	detailed := liveSeries(t, otellifecycle.WithDetailedMetrics())
	t.Logf("WithDetailedMetrics: %d series", len(detailed))
	if len(detailed) <= len(lean) || len(detailed) > 250 {
		t.Errorf("WithDetailedMetrics: %d series, want more than the default's %d and at most the documented 250", len(detailed), len(lean))
	}
}

// The lean histogram, line by line: a join of three attempts (3 s each)
// is one 9 s stint, a failure of 3 s another; the buckets fit a
// lifecycle's time scales; the label is state, the gauge's.
func TestPhaseDurationExpositionLines(t *testing.T) {
	prom, err := promexport.New(promexport.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	tr := trackerOn(t, prom, otellifecycle.WithClock(stepClock(3*time.Second)))
	for _, s := range fullLife[:7] { // to the rejoin's Ready
		_ = tr.Set(context.Background(), s)
	}
	got := exposition(t, prom.Handler(), "cluster_lifecycle_phase_")
	want := []string{
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="0.1"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="0.25"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="1"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="2.5"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="10"} 2`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="30"} 2`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="120"} 2`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="600"} 2`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="+Inf"} 2`,
		`cluster_lifecycle_phase_duration_seconds_sum{state="joining"} 12`,
		`cluster_lifecycle_phase_duration_seconds_count{state="joining"} 2`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="0.1"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="0.25"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="1"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="2.5"} 0`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="10"} 1`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="30"} 1`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="120"} 1`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="600"} 1`,
		`cluster_lifecycle_phase_duration_seconds_bucket{state="failed",le="+Inf"} 1`,
		`cluster_lifecycle_phase_duration_seconds_sum{state="failed"} 3`,
		`cluster_lifecycle_phase_duration_seconds_count{state="failed"} 1`,
		`cluster_lifecycle_phase_entries_total{state="starting"} 0`,
		`cluster_lifecycle_phase_entries_total{state="restarting"} 0`,
		`cluster_lifecycle_phase_entries_total{state="bootstrapping"} 0`,
		`cluster_lifecycle_phase_entries_total{state="joining"} 4`,
		`cluster_lifecycle_phase_entries_total{state="ready"} 2`,
		`cluster_lifecycle_phase_entries_total{state="draining"} 0`,
		`cluster_lifecycle_phase_entries_total{state="stopping"} 0`,
		`cluster_lifecycle_phase_entries_total{state="failed"} 1`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("exposition:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// WithStatusMetric in Prometheus: the semantic conventions' UpDownCounter
// becomes a gauge, cluster_lifecycle_status, keyed cluster_lifecycle_state,
// one-hot; the entries carry the same key.
func TestStatusMetricExpositionLines(t *testing.T) {
	prom, err := promexport.New(promexport.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	tr := trackerOn(t, prom, otellifecycle.WithStatusMetric())
	tr.ToReady(context.Background(), 3)
	got := exposition(t, prom.Handler(), "cluster_lifecycle_status")
	want := []string{
		`cluster_lifecycle_status{cluster_lifecycle_state="starting"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="restarting"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="bootstrapping"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="joining"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="ready"} 1`,
		`cluster_lifecycle_status{cluster_lifecycle_state="draining"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="stopping"} 0`,
		`cluster_lifecycle_status{cluster_lifecycle_state="failed"} 0`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("exposition:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mfs := scrape(t, prom.Handler())
	if mf := mfs["cluster_lifecycle_status"]; mf.GetType().String() != "GAUGE" {
		t.Fatalf("cluster_lifecycle_status is a %v, want a gauge", mf.GetType())
	}
	if _, ok := mfs["cluster_lifecycle_state"]; ok {
		t.Fatal("the one-hot gauge is exposed beside the status metric")
	}
	if v, ok := value(mfs["cluster_lifecycle_phase_entries_total"], "cluster_lifecycle_state", "ready"); !ok || v != 1 {
		t.Fatalf(`cluster_lifecycle_phase_entries_total{cluster_lifecycle_state="ready"} = %v (present %v)`, v, ok)
	}
}

// Why the duration histogram has explicit buckets: an exponential
// histogram, which OpenTelemetry offers for exactly this, reaches the text
// exposition (what Prometheus 2, and Prometheus 3 without native
// histograms, scrape) as its count and sum only, with no bucket to take a
// quantile from; only a protobuf scrape carries it as a native histogram.
func TestAnExponentialHistogramKeepsNoBucketInTheTextExposition(t *testing.T) {
	prom, err := promexport.New(promexport.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Name: "cluster.lifecycle.phase.duration"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	h, err := mp.Meter(otellifecycle.ScopeName).Float64Histogram("cluster.lifecycle.phase.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.4, 1.5, 3, 12} {
		h.Record(context.Background(), v, metric.WithAttributes(attribute.String("state", "joining")))
	}
	got := exposition(t, prom.Handler(), "cluster_lifecycle_phase_duration")
	want := []string{
		`cluster_lifecycle_phase_duration_seconds_bucket{state="joining",le="+Inf"} 4`,
		`cluster_lifecycle_phase_duration_seconds_sum{state="joining"} 16.9`,
		`cluster_lifecycle_phase_duration_seconds_count{state="joining"} 4`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("text exposition of an exponential histogram:\n%s\nwant only:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
