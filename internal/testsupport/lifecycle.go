package testsupport

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// WaitState waits, within within, until tracker's state satisfies until,
// and returns that state. Otherwise it fails the test with what, the state
// the tracker stayed in and its history. It sees a state however briefly
// it lasted (it is otellifecycle.Tracker.Wait).
func WaitState(t testing.TB, tracker *otellifecycle.Tracker, what string, within time.Duration, until func(otellifecycle.State) bool) otellifecycle.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	s, err := tracker.Wait(ctx, until)
	if err != nil {
		t.Fatalf("not %s within %v (%v): now %v; history:%s", what, within, err, s, History(tracker))
	}
	return s
}

// History writes tracker's history as one line for a test's message: each
// transition's Detail with its time since the tracker's first state began.
func History(tracker *otellifecycle.Tracker) string {
	h := tracker.History()
	if len(h) == 0 {
		return " (none)"
	}
	began := h[0].At.Add(-h[0].InPhase)
	var b strings.Builder
	for _, tr := range h {
		fmt.Fprintf(&b, " [%+.3fs %s]", tr.At.Sub(began).Seconds(), tr.Detail)
	}
	return b.String()
}

// WantStateGauge collects reader and fails the test unless the tracker's
// one-hot state gauge (otellifecycle.DefaultMetricName, with the default
// state key) is there with every label: want's at 1, every other at 0,
// and each point with attrs (the tracker's WithAttributes) besides its
// state.
func WantStateGauge(t testing.TB, reader *sdkmetric.ManualReader, want otellifecycle.Phase, attrs ...attribute.KeyValue) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var got *metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		for i, m := range sm.Metrics {
			if m.Name == otellifecycle.DefaultMetricName {
				got = &sm.Metrics[i]
			}
		}
	}
	if got == nil {
		t.Fatalf("no %s in the collection", otellifecycle.DefaultMetricName)
	}
	var g metricdata.Gauge[int64]
	for _, l := range otellifecycle.AllLabels() {
		v := int64(0)
		if l == string(want) {
			v = 1
		}
		g.DataPoints = append(g.DataPoints, metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(append([]attribute.KeyValue{attribute.String(otellifecycle.DefaultStateKey, l)}, attrs...)...),
			Value:      v,
		})
	}
	metricdatatest.AssertAggregationsEqual(t, g, got.Data, metricdatatest.IgnoreTimestamp())
}
