package otellifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// oneHotOptions are the baselines' precomputed options: state=<label> for
// each label, after extra.
func oneHotOptions(extra ...attribute.KeyValue) [8][]metric.ObserveOption {
	return labelOptions("state", extra...)
}

// labelOptions are precomputed options key=<label> for each label, after
// extra (the entries counter's are phase=<label>).
func labelOptions(key string, extra ...attribute.KeyValue) (opts [8][]metric.ObserveOption) {
	for i, l := range otellifecycle.AllLabels() {
		kvs := append(append([]attribute.KeyValue(nil), extra...), attribute.String(key, l))
		opts[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	}
	return opts
}

// observeOneHot observes the labels of a baseline, current at 1.
func observeOneHot(o metric.Observer, g metric.Int64Observable, opts *[8][]metric.ObserveOption, current int) {
	for i := range opts {
		var v int64
		if i == current {
			v = 1
		}
		o.ObserveInt64(g, v, opts[i]...)
	}
}

// observeEntries observes a baseline's phase-entries counter: counts[i]
// for each phase, 0 for the rest.
func observeEntries(o metric.Observer, c metric.Int64Observable, opts *[8][]metric.ObserveOption, counts map[int]int64) {
	for i := range opts {
		o.ObserveInt64(c, counts[i], opts[i]...)
	}
}

// bareGauge is the collection baseline for a fresh tracker: one observable
// gauge over the same eight labels and the phase-entries counter over the
// eight phases, observed from precomputed attribute sets by one callback.
func bareGauge(tb testing.TB) *sdkmetric.ManualReader {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	meter := mp.Meter("baseline")
	g, err := meter.Int64ObservableGauge("cluster.lifecycle.state")
	if err != nil {
		tb.Fatal(err)
	}
	entries, _ := meter.Int64ObservableCounter("cluster.lifecycle.phase.entries")
	opts, entryOpts := oneHotOptions(), labelOptions("state")
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		observeOneHot(o, g, &opts, 4)
		observeEntries(o, entries, &entryOpts, nil)
		return nil
	}, g, entries); err != nil {
		tb.Fatal(err)
	}
	return reader
}

// bareInstruments is the baseline for a tracker that has made transitions
// (Starting → Joining → Ready): the same instruments with the same points,
// registered directly on the SDK (the gauges and the entries from
// precomputed sets in one callback; the join's duration in the histogram).
func bareInstruments(tb testing.TB) *sdkmetric.ManualReader {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	meter := mp.Meter("baseline")
	g, _ := meter.Int64ObservableGauge("cluster.lifecycle.state")
	nodes, _ := meter.Int64ObservableGauge("cluster.lifecycle.nodes")
	entries, _ := meter.Int64ObservableCounter("cluster.lifecycle.phase.entries")
	entryOpts := labelOptions("state")
	hist, _ := meter.Float64Histogram("cluster.lifecycle.phase.duration", metric.WithExplicitBucketBoundaries(
		0.1, 0.25, 1, 2.5, 10, 30, 120, 600))
	opts := oneHotOptions()
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		observeOneHot(o, g, &opts, 4)
		o.ObserveInt64(nodes, 3)
		observeEntries(o, entries, &entryOpts, map[int]int64{3: 1, 4: 1})
		return nil
	}, g, nodes, entries); err != nil {
		tb.Fatal(err)
	}
	hist.Record(context.Background(), 1, metric.WithAttributes(attribute.String("state", "joining")))
	return reader
}

func BenchmarkCollect(b *testing.B) {
	ctx := b.Context()
	var rm metricdata.ResourceMetrics
	run := func(b *testing.B, r *sdkmetric.ManualReader) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Collect(ctx, &rm); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("impl=bare-gauge", func(b *testing.B) { run(b, bareGauge(b)) })
	b.Run("impl=tracker/fresh", func(b *testing.B) {
		_, r := metricsTracker(b)
		run(b, r)
	})
	b.Run("impl=bare-instruments", func(b *testing.B) { run(b, bareInstruments(b)) })
	b.Run("impl=tracker/ready", func(b *testing.B) {
		tr, r := metricsTracker(b)
		tr.ToJoining(ctx, 0)
		tr.ToReady(ctx, 3)
		run(b, r)
	})
}

// BenchmarkTransitionAllSignals: SDK meter, SDK tracer recording and
// exporting through a batcher, slog JSON to io.Discard.
func BenchmarkTransitionAllSignals(b *testing.B) {
	ctx := b.Context()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(ctx)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(ctx)
	tr, err := otellifecycle.New(
		otellifecycle.WithMeterProvider(mp),
		otellifecycle.WithTracerProvider(tp),
		otellifecycle.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		otellifecycle.WithAttributes(attribute.String("node.id", "n1")))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = tr.Set(ctx, cycle[i%len(cycle)])
		i++
	}
}
