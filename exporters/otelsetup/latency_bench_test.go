package otelsetup_test

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// BenchmarkTransitionWithCollector compares transition latency with every
// signal exported over OTLP/gRPC to a healthy receiver, to an endpoint
// that refuses connections and to one that accepts and never answers. It
// reports the 99th percentile of single transitions.
func BenchmarkTransitionWithCollector(b *testing.B) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	for _, name := range []string{"healthy", "refusing", "wedged"} {
		b.Run("endpoint="+name, func(b *testing.B) {
			var addr string
			switch name {
			case "healthy":
				_, addr = grpcReceiver(b)
			case "refusing":
				addr = refusing(b)
			default:
				addr = blackHole(b)
			}
			b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
			b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
			boundExporterWaits(b)
			b.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
			b.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
			p, err := otelsetup.Setup(ctx)
			if err != nil {
				b.Fatal(err)
			}
			tr, _ := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				start := time.Now()
				_ = tr.Set(ctx, cycle[i%len(cycle)])
				lat = append(lat, time.Since(start))
				i++
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			_ = p.Shutdown(ctx)
			_ = tr.Close()
		})
	}
}

var cycle = []otellifecycle.State{
	otellifecycle.RestartingState(), otellifecycle.JoiningState(1), otellifecycle.FailedState("seeds down"),
	otellifecycle.BootstrappingState(), otellifecycle.ReadyState(3), otellifecycle.DrainingState(),
	otellifecycle.StoppingState(), otellifecycle.StartingState(),
}
