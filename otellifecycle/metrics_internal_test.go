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
// not allocate, in any phase, with the default metrics or the detailed.
func TestStateGaugeCallbackDoesNotAllocate(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	defer mp.Shutdown(context.Background())
	for _, detailed := range []bool{false, true} {
		opts := []Option{WithMeterProvider(mp), WithLogger(slog.New(slog.DiscardHandler)), WithAttributes(attribute.String("node.id", "n1"))}
		if detailed {
			opts = append(opts, WithDetailedMetrics())
		}
		tr, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range []State{JoiningState(2), ReadyState(3), FailedState("x")} {
			_ = tr.Set(t.Context(), s)
			o := &countingObserver{}
			allocs := testing.AllocsPerRun(1000, func() { _ = tr.signals.metrics.observe(t.Context(), o) })
			if allocs != 0 {
				t.Fatalf("detailed %v: in %v the callback allocates %v times", detailed, s, allocs)
			}
			want := 2 * numPhases // every label, every phase's entries
			if detailed {
				want += i + 1 // and each (from, to) pair seen so far
			}
			if s.Phase == Joining || s.Phase == Ready {
				want++
			}
			if o.n != want*1001 {
				t.Fatalf("detailed %v: in %v: %d observations per call, want %d", detailed, s, o.n/1001, want)
			}
		}
		_ = tr.Close()
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
