package otellifecycle_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// metricsTracker returns a tracker on a real SDK meter with a ManualReader.
func metricsTracker(t testing.TB, opts ...otellifecycle.Option) (*otellifecycle.Tracker, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return newTracker(t, append([]otellifecycle.Option{otellifecycle.WithMeterProvider(mp)}, opts...)...), reader
}

func collect(t testing.TB, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otellifecycle.ScopeName || sm.Scope.Version != otellifecycle.Version {
			t.Fatalf("scope %+v, want %s %s", sm.Scope, otellifecycle.ScopeName, otellifecycle.Version)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// oneHot builds the expected state gauge: every label, the current at 1.
func oneHot(key, current string, base ...attribute.KeyValue) metricdata.Gauge[int64] {
	var g metricdata.Gauge[int64]
	for _, l := range otellifecycle.AllLabels() {
		var v int64
		if l == current {
			v = 1
		}
		kvs := append(slices.Clone(base), attribute.String(key, l))
		g.DataPoints = append(g.DataPoints, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kvs...), Value: v})
	}
	return g
}

func TestStateGaugeIsOneHotOverEveryLabel(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node))
	want := metricdata.Metrics{
		Name:        "cluster.lifecycle.state",
		Description: "Cluster lifecycle phase: 1 for the current phase's label, 0 for every other label.",
		Unit:        "{state}",
	}
	for i, s := range append([]otellifecycle.State{otellifecycle.StartingState()}, cycle...) {
		if i > 0 {
			if err := tr.Set(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		want.Data = oneHot("state", s.Label(), node)
		metricdatatest.AssertEqual(t, want, collect(t, reader)["cluster.lifecycle.state"], metricdatatest.IgnoreTimestamp())
	}
}

func TestRenamedStateGaugeAndKey(t *testing.T) {
	ctx := t.Context()
	tr, reader := metricsTracker(t, otellifecycle.WithMetricName("nodedb.cluster.state"), otellifecycle.WithStateAttributeKey("phase"))
	tr.ToReady(ctx, 2)
	got, ok := collect(t, reader)["nodedb.cluster.state"]
	if !ok {
		t.Fatal("no nodedb.cluster.state metric")
	}
	metricdatatest.AssertAggregationsEqual(t, oneHot("phase", "ready"), got.Data, metricdatatest.IgnoreTimestamp())
}

func TestPayloadGaugesAreObservedOnlyInTheirPhase(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node))
	tr.ToJoining(ctx, 0)
	tr.ToJoining(ctx, 2)
	got := collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.join.attempt", Unit: "{attempt}",
		Description: "Current cluster join attempt, counted from 0; observed only while joining.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(node), Value: 2}}},
	}, got["cluster.lifecycle.join.attempt"], metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.nodes"]; ok {
		t.Fatal("nodes observed while joining")
	}
	tr.ToReady(ctx, 3)
	got = collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.nodes", Unit: "{node}",
		Description: "Nodes in the cluster as this node sees it; observed only while ready.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(node), Value: 3}}},
	}, got["cluster.lifecycle.nodes"], metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.join.attempt"]; ok {
		t.Fatal("join attempt observed while ready")
	}
}

// durationPoint is one point of the phase-duration histogram: a phase's
// stints, in seconds, on the given bucket bounds.
func durationPoint(bounds []float64, phase string, stints ...float64) metricdata.HistogramDataPoint[float64] {
	dp := metricdata.HistogramDataPoint[float64]{
		Attributes:   attribute.NewSet(attribute.String("node.id", "n1"), attribute.String("state", phase)),
		Count:        uint64(len(stints)),
		Bounds:       bounds,
		BucketCounts: make([]uint64, len(bounds)+1),
	}
	lo, hi := stints[0], stints[0]
	for _, v := range stints {
		dp.Sum += v
		lo, hi = min(lo, v), max(hi, v)
		i := 0
		for i < len(bounds) && v > bounds[i] {
			i++
		}
		dp.BucketCounts[i]++
	}
	dp.Min, dp.Max = metricdata.NewExtrema(lo), metricdata.NewExtrema(hi)
	return dp
}

// life makes a join with retries, a failure, a rejoin: every transition 2s
// after the one before (stepClock).
func life(ctx context.Context, tr *otellifecycle.Tracker) {
	tr.ToJoining(ctx, 0)     // starting: 2s
	tr.ToJoining(ctx, 1)     // joining{0}: 2s
	tr.ToJoining(ctx, 2)     // joining{1}: 2s
	tr.ToReady(ctx, 3)       // joining{2}: 2s, so a 6s stint of joining
	tr.ToReady(ctx, 4)       // ready{3}: 2s
	tr.ToFailed(ctx, "disk") // ready{4}: 2s, so a 4s stint of ready
	tr.ToJoining(ctx, 0)     // failed: 2s
	tr.ToReady(ctx, 3)       // joining{0}: 2s
}

// By default the histogram times only Joining and Failed, on buckets fitted
// to a lifecycle (100 ms to 10 min), and a record is a whole stint in the
// phase: a join's retries, Joining{0} → Joining{1} → Joining{2}, are one
// join. There is no transitions counter.
func TestDurationsTimeWholeStintsOfJoiningAndFailed(t *testing.T) {
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node), otellifecycle.WithClock(stepClock(2*time.Second)))
	life(t.Context(), tr)
	got := collect(t, reader)
	bounds := []float64{0.1, 0.25, 1, 2.5, 10, 30, 120, 600}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.phase.duration", Unit: "s",
		Description: "Time spent in a cluster lifecycle phase, from entering it until leaving it for another phase.",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints:  []metricdata.HistogramDataPoint[float64]{durationPoint(bounds, "joining", 6, 2), durationPoint(bounds, "failed", 2)},
		},
	}, got["cluster.lifecycle.phase.duration"], metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.transitions"]; ok {
		t.Fatal("the transitions counter is exported without WithDetailedMetrics")
	}
}

// WithDetailedMetrics adds the (from, to) counter and times every phase,
// on the finer buckets.
func TestDetailedMetricsAddTransitionPairsAndEveryPhase(t *testing.T) {
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node), otellifecycle.WithClock(stepClock(2*time.Second)), otellifecycle.WithDetailedMetrics())
	life(t.Context(), tr)
	got := collect(t, reader)
	pair := func(from, to string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(node, attribute.String("from", from), attribute.String("to", to)), Value: n}
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.transitions", Unit: "{transition}",
		Description: "Cluster lifecycle transitions, by the phase left (from) and the phase entered (to).",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{
				pair("starting", "joining", 1), pair("joining", "joining", 2), pair("joining", "ready", 2),
				pair("ready", "ready", 1), pair("ready", "failed", 1), pair("failed", "joining", 1),
			},
		},
	}, got["cluster.lifecycle.transitions"], metricdatatest.IgnoreTimestamp())
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.phase.duration", Unit: "s",
		Description: "Time spent in a cluster lifecycle phase, from entering it until leaving it for another phase.",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{
				durationPoint(bounds, "starting", 2), durationPoint(bounds, "joining", 6, 2),
				durationPoint(bounds, "ready", 4), durationPoint(bounds, "failed", 2),
			},
		},
	}, got["cluster.lifecycle.phase.duration"], metricdatatest.IgnoreTimestamp())
	var sum int64
	for _, dp := range got["cluster.lifecycle.transitions"].Data.(metricdata.Sum[int64]).DataPoints {
		sum += dp.Value
	}
	var entries int64
	for _, n := range entryPoints(t, got) {
		entries += n
	}
	if sum != entries || uint64(sum) != tr.Stats().Transitions {
		t.Fatalf("transitions %d, entries %d, Stats %d: want all equal", sum, entries, tr.Stats().Transitions)
	}
}

// WithStatusMetric is the semantic conventions' status metric: an
// UpDownCounter cluster.lifecycle.status, unit "1", attribute
// cluster.lifecycle.state, every state at every collection, 1 for the
// current one; the entries and durations take the same key.
func TestStatusMetricIsTheSemanticConventionsShape(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node), otellifecycle.WithStatusMetric())
	for i, s := range append([]otellifecycle.State{otellifecycle.StartingState()}, cycle...) {
		if i > 0 {
			if err := tr.Set(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got := collect(t, reader)
		if _, ok := got["cluster.lifecycle.state"]; ok {
			t.Fatal("the one-hot gauge is exported beside the status metric")
		}
		metricdatatest.AssertEqual(t, metricdata.Metrics{
			Name: "cluster.lifecycle.status", Unit: "1",
			Description: "The cluster lifecycle's current status: 1 for the current state, 0 for every other state.",
			Data: metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality, IsMonotonic: false,
				DataPoints: oneHot("cluster.lifecycle.state", s.Label(), node).DataPoints,
			},
		}, got["cluster.lifecycle.status"], metricdatatest.IgnoreTimestamp())
		for _, dp := range got["cluster.lifecycle.phase.entries"].Data.(metricdata.Sum[int64]).DataPoints {
			if !dp.Attributes.HasValue("cluster.lifecycle.state") || dp.Attributes.HasValue("state") {
				t.Fatalf("an entries point keyed otherwise: %v", dp.Attributes.Encoded(attribute.DefaultEncoder()))
			}
		}
	}
}

func TestClosedTrackersSeriesAreGoneAtTheNextCollection(t *testing.T) {
	ctx := t.Context()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)
	a, err := otellifecycle.New(otellifecycle.WithLogger(quiet), otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(attribute.String("shard", "a")))
	if err != nil {
		t.Fatal(err)
	}
	b := newTracker(t, otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(attribute.String("shard", "b")))
	b.ToReady(ctx, 1)
	if n := len(collect(t, reader)["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64]).DataPoints); n != 16 {
		t.Fatalf("two trackers: %d state points, want 16", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	g := collect(t, reader)["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64])
	if len(g.DataPoints) != 8 {
		t.Fatalf("after Close: %d state points, want 8", len(g.DataPoints))
	}
	for _, dp := range g.DataPoints {
		if v, _ := dp.Attributes.Value("shard"); v.AsString() != "b" {
			t.Fatalf("closed tracker's series still exported: %v", dp.Attributes)
		}
	}
}

// No collection may ever see a torn state, however transitions and
// collections interleave.
func TestNoCollectionSeesATornState(t *testing.T) {
	ctx := t.Context()
	const goroutines, total = 8, 100_000
	tr, reader := metricsTracker(t)
	var made atomic.Int64
	var stop atomic.Bool
	collections := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			g, ok := collect(t, reader)["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64])
			if !ok || len(g.DataPoints) != 8 {
				t.Errorf("collection %d: %d state points, want 8", collections, len(g.DataPoints))
				return
			}
			ones := 0
			for _, dp := range g.DataPoints {
				ones += int(dp.Value)
			}
			if ones != 1 {
				t.Errorf("collection %d: %d labels at 1", collections, ones)
				return
			}
			collections++
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range total / goroutines {
				tr.Set(ctx, writersState(g, i))
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-done
	var sum int64
	for _, dp := range collect(t, reader)["cluster.lifecycle.phase.entries"].Data.(metricdata.Sum[int64]).DataPoints {
		sum += dp.Value
	}
	if sum != made.Load() || sum != total {
		t.Fatalf("phase entries total %d, made %d", sum, made.Load())
	}
	if collections == 0 {
		t.Fatal("no collection ran")
	}
	t.Logf("%d collections during %d transitions", collections, total)
}

// entryPoints maps cluster.lifecycle.phase.entries' phase label to its
// value, checking that it is a monotonic cumulative sum over all 8 phases.
func entryPoints(t testing.TB, got map[string]metricdata.Metrics) map[string]int64 {
	t.Helper()
	m, ok := got["cluster.lifecycle.phase.entries"]
	if !ok {
		t.Fatal("no cluster.lifecycle.phase.entries")
	}
	sum := m.Data.(metricdata.Sum[int64])
	if !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality || m.Unit != "{entry}" {
		t.Fatalf("cluster.lifecycle.phase.entries: monotonic %v, %v, unit %q", sum.IsMonotonic, sum.Temporality, m.Unit)
	}
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		v, _ := dp.Attributes.Value("state")
		out[v.AsString()] = dp.Value
	}
	if len(out) != 8 || len(sum.DataPoints) != 8 {
		t.Fatalf("cluster.lifecycle.phase.entries has %d points over %d phases, want 8 over all 8: %v", len(sum.DataPoints), len(out), out)
	}
	return out
}

// A counter series that first appears at 1 has no increase() in
// Prometheus, so a node's first failure would be invisible to an alert on
// the counter. Every phase's entry series therefore exists, at 0, from the
// tracker's creation; the initial Starting is not an entry (no transition
// led to it), so the entries always add up to the transitions.
func TestEveryPhaseEntrySeriesExistsAtZeroFromCreation(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node))
	want := metricdata.Metrics{
		Name:        "cluster.lifecycle.phase.entries",
		Description: "Times the cluster lifecycle entered each phase; every phase is observed from the tracker's creation, at 0 until entered.",
		Unit:        "{entry}",
	}
	entries := func(counts map[string]int64) metricdata.Sum[int64] {
		s := metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
		for _, l := range otellifecycle.AllLabels() {
			s.DataPoints = append(s.DataPoints, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(node, attribute.String("state", l)), Value: counts[l]})
		}
		return s
	}
	want.Data = entries(nil)
	metricdatatest.AssertEqual(t, want, collect(t, reader)["cluster.lifecycle.phase.entries"], metricdatatest.IgnoreTimestamp())

	tr.ToJoining(ctx, 0)
	tr.ToJoining(ctx, 1)
	tr.ToFailed(ctx, "seeds unreachable")
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	tr.ToFailed(ctx, "leader lost")
	want.Data = entries(map[string]int64{"joining": 3, "failed": 2, "ready": 1})
	got := collect(t, reader)
	metricdatatest.AssertEqual(t, want, got["cluster.lifecycle.phase.entries"], metricdatatest.IgnoreTimestamp())

	if n := tr.Stats().Transitions; n != 6 {
		t.Fatalf("%d transitions, want 6 (the entries' sum)", n)
	}
}

// Closing a tracker removes its entry series with the rest.
func TestPhaseEntriesLeaveWithTheTracker(t *testing.T) {
	ctx := t.Context()
	tr, reader := metricsTracker(t)
	tr.ToFailed(ctx, "x")
	if got := entryPoints(t, collect(t, reader)); got["failed"] != 1 {
		t.Fatalf("entries %v", got)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := collect(t, reader)["cluster.lifecycle.phase.entries"]; ok {
		t.Fatal("a closed tracker's entries are still exported")
	}
}
