package otellifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// flusher is what the SDK's MeterProvider (and most others) offer to
// export what they hold now.
type flusher interface {
	ForceFlush(context.Context) error
}

// flushMetrics makes mp export now, before a Close removes the series, so
// that the last export carries the final state whichever of the tracker
// and the provider is shut down first: `defer provider.Shutdown(ctx)`
// followed by `defer tracker.Close()` runs Close first, and without this
// flush the provider's final export would have no cluster.lifecycle.state
// at all. It waits until deadline at most. A provider that was shut down
// already has exported the state in its own final collection; that is not
// an error. Any other failure is reported through otel.Handle: it is the
// exporter's, not Close's.
func flushMetrics(mp metric.MeterProvider, deadline time.Time) {
	f, ok := mp.(flusher)
	if !ok {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := f.ForceFlush(ctx); err != nil && !readerShutdown(err) {
		otel.Handle(fmt.Errorf("otellifecycle: Close: flushing metrics: %w", err))
	}
}

// readerShutdown tells the SDK's ErrReaderShutdown by its text: this
// package depends on the OpenTelemetry API only, so it cannot name the
// SDK's error value (TestCloseFlushRecognizesAShutDownSDKReader holds
// the text to the SDK's).
func readerShutdown(err error) bool {
	return strings.Contains(err.Error(), "reader is shutdown")
}
