package otellifecycle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// exports is a metric exporter that keeps, for each export, the phase
// whose cluster.lifecycle.state point is 1 ("" when the export has no
// state points at all). block makes Export wait for its context.
type exports struct {
	mu     sync.Mutex
	phases []string
	block  bool
}

func (e *exports) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *exports) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *exports) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.block {
		<-ctx.Done()
		return ctx.Err()
	}
	current := ""
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "cluster.lifecycle.state" {
				for _, dp := range g.DataPoints {
					if v, _ := dp.Attributes.Value("state"); dp.Value == 1 {
						current = v.AsString()
					}
				}
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.phases = append(e.phases, current)
	return nil
}

func (e *exports) ForceFlush(context.Context) error { return nil }
func (e *exports) Shutdown(context.Context) error   { return nil }

func (e *exports) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.phases...)
}

// exporting returns a MeterProvider whose periodic reader exports only
// when flushed or shut down (its interval is an hour).
func exporting(e *exports) *sdkmetric.MeterProvider {
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(e, sdkmetric.WithInterval(time.Hour))))
}

// The order anyone writes, `defer provider.Shutdown(ctx)` then
// `defer tracker.Close()`, runs Close first. The last export that carries
// the state must still say Stopping; without Close's flush the provider's
// final export would carry no state at all.
func TestNaturalShutdownOrderExportsTheFinalState(t *testing.T) {
	e := &exports{}
	errs := testsupport.CaptureOTelErrors(t)
	func() {
		mp := exporting(e)
		defer mp.Shutdown(t.Context())
		tr := newTracker(t, otellifecycle.WithMeterProvider(mp))
		defer tr.Close()
		tr.ToReady(t.Context(), 3)
		tr.ToStopping(t.Context())
	}()
	got := e.all()
	last := ""
	for _, p := range got {
		if p != "" {
			last = p
		}
	}
	if last != "stopping" {
		t.Fatalf("exports %q: the last state exported is %q, want stopping", got, last)
	}
	if n := errs.Len(); n != 0 {
		t.Fatalf("errors reported: %v", errs.All())
	}
}

// The other order works too, and Close's flush on a provider that was
// shut down already is not an error.
func TestProvidersShutDownBeforeCloseIsNotAnError(t *testing.T) {
	e := &exports{}
	errs := testsupport.CaptureOTelErrors(t)
	mp := exporting(e)
	tr := newTracker(t, otellifecycle.WithMeterProvider(mp))
	tr.ToStopping(t.Context())
	if err := mp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.all(); len(got) == 0 || got[len(got)-1] != "stopping" {
		t.Fatalf("exports %q, want the last to say stopping", got)
	}
	if n := errs.Len(); n != 0 {
		t.Fatalf("errors reported: %v", errs.All())
	}
}

// An exporter that never returns holds Close for WithCloseTimeout at most;
// its failure is reported, not returned: it is the exporter's.
func TestCloseFlushKeepsItsDeadlineWithAWedgedExporter(t *testing.T) {
	e := &exports{block: true}
	errs := testsupport.CaptureOTelErrors(t)
	mp := exporting(e)
	tr := newTracker(t, otellifecycle.WithMeterProvider(mp), otellifecycle.WithCloseTimeout(50*time.Millisecond))
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if errs.Len() != 1 {
		t.Fatalf("reported %v, want the one flush failure", errs.All())
	}
	shutdown, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_ = mp.Shutdown(shutdown)
}

// A Group flushes the same way when it is closed.
func TestGroupCloseExportsTheFinalStates(t *testing.T) {
	e := &exports{}
	mp := exporting(e)
	g, err := otellifecycle.NewGroup(otellifecycle.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, otellifecycle.WithGroup(g))
	tr.ToDraining(t.Context())
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	_ = mp.Shutdown(t.Context())
	if got := e.all(); len(got) == 0 || got[0] != "draining" {
		t.Fatalf("exports %q, want the group's flush to carry draining", got)
	}
}
