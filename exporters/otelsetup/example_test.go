package otelsetup_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A cluster node's whole wiring: OpenTelemetry from the OTEL_* environment,
// Prometheus on the node's own mux, systemd, and the probe endpoints.
func Example() {
	if err := serve(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// serve runs the node until SIGINT or SIGTERM.
func serve(ctx context.Context) error {
	// wiring:begin
	prom, err := promexport.New()
	if err != nil {
		return err
	}
	p, err := otelsetup.Setup(ctx, otelsetup.WithServiceName("nodedb"), otelsetup.WithPrometheus(prom))
	if err != nil {
		return err
	}
	defer p.Shutdown(ctx) // runs last: flushes and stops every exporter

	notify := sdnotify.New()
	tracker, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithSinks(notify))...)
	if err != nil {
		return err
	}
	defer tracker.Close() // runs first: ends open spans, flushes the final state
	if _, err := notify.StartWatchdog(ctx, tracker.IsLive); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", prom.Handler())
	mux.Handle("/cluster/status", tracker.StatusHandler())
	mux.Handle("/readyz", tracker.ReadyHandler())
	mux.Handle("/livez", tracker.LiveHandler())
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()

	tracker.ToJoining(ctx, 0) // ... join the cluster, as many attempts as it takes ...
	tracker.ToReady(ctx, 3)

	stop, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	select {
	case <-stop.Done():
	case err = <-served:
	}
	tracker.ToStopping(ctx)
	return errors.Join(err, srv.Shutdown(ctx))
	// wiring:end
}

// The README's wiring example is serve's body, so it compiles and can
// never drift from the code.
func TestREADMEWiringIsCompiled(t *testing.T) {
	readme := testsupport.READMEBlock(t, "../../README.md", "## Wiring it to real destinations")
	if code := testsupport.Marked(t, "example_test.go", "wiring"); readme != code {
		t.Fatalf("the README's wiring example differs from serve in example_test.go; README:\n%s\ncode:\n%s", readme, code)
	}
}
