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

func TestTransitionCounterDurationsAndPayloadGauges(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, reader := metricsTracker(t, otellifecycle.WithAttributes(node), otellifecycle.WithClock(stepClock(2*time.Second)))
	tr.ToJoining(ctx, 0) // starting 2s
	tr.ToJoining(ctx, 1) // joining 2s
	tr.ToJoining(ctx, 2) // joining 2s
	got := collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.join.attempt", Unit: "{attempt}",
		Description: "Current cluster join attempt, counted from 0; observed only while joining.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(node), Value: 2}}},
	}, got["cluster.lifecycle.join.attempt"], metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.nodes"]; ok {
		t.Fatal("nodes observed while joining")
	}

	tr.ToReady(ctx, 3) // joining 2s
	got = collect(t, reader)
	pair := func(from, to string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(node, attribute.String("from", from), attribute.String("to", to)), Value: n}
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.transitions", Unit: "{transition}",
		Description: "Cluster lifecycle transitions, by the phase left (from) and the phase entered (to).",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{pair("starting", "joining", 1), pair("joining", "joining", 2), pair("joining", "ready", 1)},
		},
	}, got["cluster.lifecycle.transitions"], metricdatatest.IgnoreTimestamp())

	hist := got["cluster.lifecycle.phase.duration"]
	if hist.Unit != "s" {
		t.Fatalf("duration unit %q", hist.Unit)
	}
	sums := map[string]float64{}
	counts := map[string]uint64{}
	for _, dp := range hist.Data.(metricdata.Histogram[float64]).DataPoints {
		phase, _ := dp.Attributes.Value("phase")
		if id, _ := dp.Attributes.Value("node.id"); id.AsString() != "n1" {
			t.Fatalf("histogram point without node.id: %v", dp.Attributes)
		}
		sums[phase.AsString()], counts[phase.AsString()] = dp.Sum, dp.Count
	}
	if sums["starting"] != 2 || counts["starting"] != 1 || sums["joining"] != 6 || counts["joining"] != 3 || len(sums) != 2 {
		t.Fatalf("phase durations: sums %v counts %v", sums, counts)
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "cluster.lifecycle.nodes", Unit: "{node}",
		Description: "Nodes in the cluster as this node sees it; observed only while ready.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(node), Value: 3}}},
	}, got["cluster.lifecycle.nodes"], metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.join.attempt"]; ok {
		t.Fatal("join attempt observed while ready")
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
	for _, dp := range collect(t, reader)["cluster.lifecycle.transitions"].Data.(metricdata.Sum[int64]).DataPoints {
		sum += dp.Value
	}
	if sum != made.Load() || sum != total {
		t.Fatalf("transitions counter totals %d, made %d", sum, made.Load())
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
		v, _ := dp.Attributes.Value("phase")
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
			s.DataPoints = append(s.DataPoints, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(node, attribute.String("phase", l)), Value: counts[l]})
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

	var transitions int64
	for _, dp := range got["cluster.lifecycle.transitions"].Data.(metricdata.Sum[int64]).DataPoints {
		transitions += dp.Value
	}
	if transitions != 6 {
		t.Fatalf("transitions add up to %d, want 6 (the entries' sum)", transitions)
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
