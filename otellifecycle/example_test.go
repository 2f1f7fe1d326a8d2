package otellifecycle_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A service wires one tracker to its providers and mux, then reports each
// phase as it goes.
func Example() {
	ctx := context.Background()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tracers := sdktrace.NewTracerProvider()
	defer func() { _ = meters.Shutdown(ctx); _ = tracers.Shutdown(ctx) }()

	tracker, err := otellifecycle.New(
		otellifecycle.WithMeterProvider(meters),
		otellifecycle.WithTracerProvider(tracers),
		otellifecycle.WithAttributes(attribute.String("node.id", "n1")),
		otellifecycle.WithLogger(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{} // keep the example's output stable
				}
				return a
			},
		}))),
	)
	if err != nil {
		panic(err)
	}
	defer tracker.Close()

	mux := http.NewServeMux()
	mux.Handle("/cluster/status", tracker.StatusHandler())
	mux.Handle("/readyz", tracker.ReadyHandler())
	mux.Handle("/livez", tracker.LiveHandler())

	tracker.ToJoining(ctx, 0)
	tracker.ToJoining(ctx, 1)
	tracker.ToReady(ctx, 3)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(rec.Code, rec.Body.String(), tracker.Current())
	// Output:
	// level=INFO msg="cluster lifecycle initial state" state=starting detail=starting seq=0 node.id=n1
	// level=INFO msg="cluster lifecycle transition" prev=starting new=joining detail="joining cluster (attempt 0)" seq=1 node.id=n1
	// level=INFO msg="cluster lifecycle transition" prev=joining new=joining detail="joining cluster (attempt 1)" seq=2 node.id=n1
	// level=INFO msg="cluster lifecycle transition" prev=joining new=ready detail="ready (3 nodes)" seq=3 node.id=n1
	// 200 ok ready (3 nodes)
}

// WaitReady blocks until the node is Ready, for code that must not serve
// before then.
func ExampleTracker_WaitReady() {
	ctx := context.Background()
	tracker, _ := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	defer tracker.Close()

	go func() {
		tracker.ToBootstrapping(ctx)
		tracker.ToReady(ctx, 1)
	}()
	s, err := tracker.WaitReady(ctx)
	fmt.Println(s, err)
	// Output: ready (1 nodes) <nil>
}

// A Sink gets the initial state (Seq 0) and then every transition in
// order, off the caller's goroutine.
func ExampleSinkFunc() {
	ctx := context.Background()
	audit := otellifecycle.SinkFunc(func(_ context.Context, t otellifecycle.Transition) error {
		_, err := fmt.Fprintf(os.Stdout, "#%d %s -> %s: %s\n", t.Seq, t.From.Label(), t.To.Label(), t.Detail)
		return err
	})
	tracker, _ := otellifecycle.New(otellifecycle.WithSinks(audit), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	tracker.ToJoining(ctx, 0)
	tracker.ToFailed(ctx, "seed 10.0.0.1:7000 unreachable")
	_ = tracker.Close() // delivers what is queued
	// Output:
	// #0 starting -> starting: starting
	// #1 starting -> joining: joining cluster (attempt 0)
	// #2 joining -> failed: failed: seed 10.0.0.1:7000 unreachable
}

func ExampleState_MarshalJSON() {
	for _, s := range []otellifecycle.State{otellifecycle.JoiningState(1), otellifecycle.ReadyState(3), otellifecycle.FailedState("timeout")} {
		b, _ := s.MarshalJSON()
		fmt.Println(string(b))
	}
	// Output:
	// {"phase":"joining","attempt":1}
	// {"phase":"ready","nodes":3}
	// {"phase":"failed","reason":"timeout"}
}
