package otellifecycle

import (
	"context"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// countingObserver is a metric.Observer that only counts observations.
type countingObserver struct {
	embedded.Observer
	n int
}

func (o *countingObserver) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {
	o.n++
}
func (o *countingObserver) ObserveInt64(metric.Int64Observable, int64, ...metric.ObserveOption) {
	o.n++
}

// The gauge callback runs at every collection of every tracker: it must
// not allocate, in any phase.
func TestStateGaugeCallbackDoesNotAllocate(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	defer mp.Shutdown(context.Background())
	tr, err := New(WithMeterProvider(mp), WithLogger(slog.New(slog.DiscardHandler)), WithAttributes(attribute.String("node.id", "n1")))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i, s := range []State{JoiningState(2), ReadyState(3), FailedState("x")} {
		_ = tr.Set(t.Context(), s)
		o := &countingObserver{}
		allocs := testing.AllocsPerRun(1000, func() { _ = tr.otel.metrics.observe(t.Context(), o) })
		if allocs != 0 {
			t.Fatalf("in %v the callback allocates %v times", s, allocs)
		}
		want := 2*numPhases + i + 1 // every label, every phase's entries, and each (from, to) pair seen so far
		if s.Phase == Joining || s.Phase == Ready {
			want++
		}
		if o.n != want*1001 {
			t.Fatalf("in %v: %d observations per call, want %d", s, o.n/1001, want)
		}
	}
}

// Close recognizes the SDK's "reader is shut down" error by its text: the
// package may not import the SDK to name the value.
func TestCloseFlushRecognizesAShutDownSDKReader(t *testing.T) {
	if !readerShutdown(sdkmetric.ErrReaderShutdown) {
		t.Fatalf("%q is not recognized as the SDK's ErrReaderShutdown", sdkmetric.ErrReaderShutdown)
	}
	if readerShutdown(context.DeadlineExceeded) {
		t.Fatal("a deadline is taken for a shut-down reader")
	}
}
