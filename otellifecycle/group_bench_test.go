package otellifecycle_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// light are the options of a tracker that only reports metrics, as the
// many trackers of a large group would.
func light(opts ...otellifecycle.Option) []otellifecycle.Option {
	return append([]otellifecycle.Option{
		otellifecycle.WithLogger(quiet),
		otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()),
		otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()),
	}, opts...)
}

// groupOf makes n trackers in a group on mp, closed at the end.
func groupOf(b *testing.B, mp metric.MeterProvider, n int, gopts ...otellifecycle.GroupOption) *otellifecycle.Group {
	g, err := otellifecycle.NewGroup(append([]otellifecycle.GroupOption{otellifecycle.WithMeterProvider(mp)}, gopts...)...)
	if err != nil {
		b.Fatal(err)
	}
	trackers := make([]*otellifecycle.Tracker, n)
	for i := range n {
		if trackers[i], err = otellifecycle.New(light(otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.Int("shard", i)))...); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		for _, t := range trackers {
			_ = t.Close()
		}
		_ = g.Close()
	})
	return g
}

// bareSeries is the baseline for a group of n trackers: the same
// instruments (name, unit, description, on a meter of the same scope)
// registered directly on the SDK, and one callback observing the same
// series, the n×8 state series, the n×8 phase-entries series and the
// group's 8 count series, from precomputed attribute sets. The SDK hashes
// the instrument's identity, scope included, on every observation, so a
// baseline on a shorter scope name would be faster by that alone (about
// 6 % at 10,000 trackers).
func bareSeries(b *testing.B, n int) *sdkmetric.ManualReader {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	meter := mp.Meter(otellifecycle.ScopeName, metric.WithInstrumentationVersion(otellifecycle.Version))
	g, err := meter.Int64ObservableGauge("cluster.lifecycle.state", metric.WithUnit("{state}"),
		metric.WithDescription("Cluster lifecycle phase: 1 for the current phase's label, 0 for every other label."))
	if err != nil {
		b.Fatal(err)
	}
	count, _ := meter.Int64ObservableUpDownCounter("cluster.lifecycle.count", metric.WithUnit("{tracker}"),
		metric.WithDescription("Trackers of the group in each cluster lifecycle phase."))
	attempt, _ := meter.Int64ObservableGauge("cluster.lifecycle.join.attempt", metric.WithUnit("{attempt}"),
		metric.WithDescription("Current cluster join attempt, counted from 0; observed only while joining."))
	nodes, _ := meter.Int64ObservableGauge("cluster.lifecycle.nodes", metric.WithUnit("{node}"),
		metric.WithDescription("Nodes in the cluster as this node sees it; observed only while ready."))
	entries, _ := meter.Int64ObservableCounter("cluster.lifecycle.phase.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Times the cluster lifecycle entered each phase; every phase is observed from the tracker's creation, at 0 until entered."))
	_, _ = meter.Float64Histogram("cluster.lifecycle.phase.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent in a cluster lifecycle phase, from entering it until leaving it for another phase."))
	opts := make([][8][]metric.ObserveOption, n)
	entryOpts := make([][8][]metric.ObserveOption, n)
	for i := range n {
		opts[i] = oneHotOptions(attribute.Int("shard", i))
		entryOpts[i] = labelOptions("state", attribute.Int("shard", i))
	}
	countOpts := oneHotOptions()
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for j := range countOpts {
			var v int64
			if j == 0 {
				v = int64(n)
			}
			o.ObserveInt64(count, v, countOpts[j]...)
		}
		for i := range opts {
			observeOneHot(o, g, &opts[i], 0)
			observeEntries(o, entries, &entryOpts[i], nil)
		}
		return nil
	}, g, count, attempt, nodes, entries); err != nil {
		b.Fatal(err)
	}
	return reader
}

func collectLoop(b *testing.B, r *sdkmetric.ManualReader) {
	ctx := b.Context()
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := r.Collect(ctx, &rm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectTrackers: a group of n fresh trackers against the bare
// baseline observing the same series.
func BenchmarkCollectTrackers(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("trackers=%d/impl=bare", n), func(b *testing.B) { collectLoop(b, bareSeries(b, n)) })
		b.Run(fmt.Sprintf("trackers=%d/impl=group", n), func(b *testing.B) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			groupOf(b, mp, n)
			collectLoop(b, reader)
		})
	}
}

// BenchmarkCollectAggregateOnly: a group without per-tracker series costs
// the same to collect for any number of trackers.
func BenchmarkCollectAggregateOnly(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("trackers=%d", n), func(b *testing.B) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			groupOf(b, mp, n, otellifecycle.WithoutTrackerSeries())
			collectLoop(b, reader)
		})
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHeapPerTracker measures the heap a tracker holds once its
// default history (32) is full: standalone on the default providers, and
// in a group with per-tracker series on an SDK meter.
func BenchmarkHeapPerTracker(b *testing.B) {
	ctx := b.Context()
	const n = 2000
	fill := func(t *otellifecycle.Tracker) {
		for i := range otellifecycle.DefaultHistory + 8 {
			t.ToJoining(ctx, uint32(i%4))
		}
	}
	// The heap is measured once, around n trackers; the timed loop makes
	// and closes one tracker, for its cost.
	measure := func(b *testing.B, newT func() *otellifecycle.Tracker) {
		before := heapAlloc()
		ts := make([]*otellifecycle.Tracker, n)
		for i := range ts {
			ts[i] = newT()
			fill(ts[i])
		}
		per := float64(heapAlloc()-before) / n
		for _, t := range ts {
			_ = t.Close()
		}
		b.ReportAllocs()
		for b.Loop() {
			t := newT()
			fill(t)
			_ = t.Close()
		}
		b.ReportMetric(per, "B/tracker")
	}
	b.Run("impl=standalone", func(b *testing.B) {
		measure(b, func() *otellifecycle.Tracker {
			t, err := otellifecycle.New(otellifecycle.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			return t
		})
	})
	for _, mode := range []struct {
		name  string
		opts  []otellifecycle.GroupOption
		topts []otellifecycle.Option
	}{
		{"group", nil, nil},
		{"group-aggregate-only", []otellifecycle.GroupOption{otellifecycle.WithoutTrackerSeries()}, nil},
		// One tracker per vshard: no series of its own, no history.
		{"group-aggregate-only-history0", []otellifecycle.GroupOption{otellifecycle.WithoutTrackerSeries()}, []otellifecycle.Option{otellifecycle.WithHistory(0)}},
	} {
		b.Run("impl="+mode.name, func(b *testing.B) {
			// On an SDK meter: the heap includes the SDK's storage for the
			// tracker's series (its histogram above all).
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			g, err := otellifecycle.NewGroup(append([]otellifecycle.GroupOption{otellifecycle.WithMeterProvider(mp)}, mode.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = g.Close() })
			i := 0
			measure(b, func() *otellifecycle.Tracker {
				i++
				t, err := otellifecycle.New(light(append([]otellifecycle.Option{otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.Int("shard", i))}, mode.topts...)...)...)
				if err != nil {
					b.Fatal(err)
				}
				return t
			})
		})
	}
}

// BenchmarkHeapAfterMillionTransitions: history, subscriber buffers and
// sink queues are bounded, so a million transitions leave the heap where
// it was.
func BenchmarkHeapAfterMillionTransitions(b *testing.B) {
	ctx := b.Context()
	release := make(chan struct{})
	defer close(release)
	stuck := otellifecycle.SinkFunc(func(ctx context.Context, _ otellifecycle.Transition) error {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil
	})
	var growth float64
	for b.Loop() {
		b.StopTimer()
		t, err := otellifecycle.New(light(otellifecycle.WithSinks(stuck), otellifecycle.WithCloseTimeout(10*time.Millisecond))...)
		if err != nil {
			b.Fatal(err)
		}
		_, cancel := t.Subscribe(64)
		for i := range 10_000 { // warm up: fill history, queue and buffer
			t.ToJoining(ctx, uint32(i))
		}
		before := heapAlloc()
		b.StartTimer()
		for i := range 1_000_000 {
			t.ToJoining(ctx, uint32(i))
		}
		b.StopTimer()
		growth = float64(int64(heapAlloc()) - int64(before))
		cancel()
		_ = t.Close() // gives up on the stuck sink after 10ms
		b.StartTimer()
	}
	b.ReportMetric(growth, "heap-growth-B")
}

// vshardGroup is the group of the million-trackers case: aggregate only,
// on an SDK meter, and trackers with one attribute and no history.
func vshardGroup(b *testing.B) (*otellifecycle.Group, func(i int) *otellifecycle.Tracker) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	g, err := otellifecycle.NewGroup(otellifecycle.WithMeterProvider(mp), otellifecycle.WithoutTrackerSeries())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	return g, func(i int) *otellifecycle.Tracker {
		t, err := otellifecycle.New(light(otellifecycle.WithGroup(g), otellifecycle.WithHistory(0),
			otellifecycle.WithAttributes(attribute.Int("vshard", i)))...)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
}

// BenchmarkTransitionInGroup is a transition of one tracker among 10,000 of
// an aggregate-only group (the group's counts, its transitions counter and
// its duration histogram), through every phase.
func BenchmarkTransitionInGroup(b *testing.B) {
	ctx := b.Context()
	_, newT := vshardGroup(b)
	ts := make([]*otellifecycle.Tracker, 10_000)
	for i := range ts {
		ts[i] = newT(i)
	}
	b.Cleanup(func() {
		for _, t := range ts {
			_ = t.Close()
		}
	})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = ts[i%len(ts)].Set(ctx, cycle[(i/len(ts))%len(cycle)])
		i++
	}
}

// BenchmarkMillionTrackers holds a million vshard trackers (an
// aggregate-only group, WithHistory(0), one attribute, each Joining then
// Ready) and times a collection of them all; it reports the heap they
// hold. providers=noop gives them noop tracer and logger providers,
// providers=default leaves the global ones, as a service that passes
// none does.
func BenchmarkMillionTrackers(b *testing.B) {
	for _, providers := range []string{"noop", "default"} {
		b.Run("providers="+providers, func(b *testing.B) {
			ctx := b.Context()
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			g, err := otellifecycle.NewGroup(otellifecycle.WithMeterProvider(mp), otellifecycle.WithoutTrackerSeries())
			if err != nil {
				b.Fatal(err)
			}
			const n = 1_000_000
			before := heapAlloc()
			ts := make([]*otellifecycle.Tracker, n)
			for i := range ts {
				opts := []otellifecycle.Option{otellifecycle.WithGroup(g), otellifecycle.WithHistory(0), otellifecycle.WithAttributes(attribute.Int("vshard", i))}
				if providers == "noop" {
					opts = light(opts...)
				} else {
					opts = append(opts, otellifecycle.WithLogger(quiet))
				}
				if ts[i], err = otellifecycle.New(opts...); err != nil {
					b.Fatal(err)
				}
				ts[i].ToJoining(ctx, 0)
				ts[i].ToReady(ctx, 3)
			}
			heap := float64(heapAlloc() - before)
			b.Cleanup(func() {
				for _, t := range ts {
					_ = t.Close()
				}
				_ = g.Close()
			})
			var rm metricdata.ResourceMetrics
			b.ReportAllocs()
			for b.Loop() {
				if err := reader.Collect(ctx, &rm); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(heap/(1<<20), "heap-MiB")
			b.ReportMetric(heap/n, "B/tracker")
		})
	}
}
