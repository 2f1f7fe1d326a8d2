package otellifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// runNode is the README's Quick start, compiled: the lines between the
// quickstart markers are the README's code block, byte for byte
// (TestREADMEQuickStartIsCompiled).
func runNode(ctx context.Context, mux *http.ServeMux, nodeID string, seeds []string, join func(context.Context, []string) ([]string, error)) error {
	// quickstart:begin
	tracker, err := otellifecycle.New(
		otellifecycle.WithAttributes(attribute.String("node.id", nodeID)),
		// WithMeterProvider / WithTracerProvider / WithLoggerProvider default to the
		// globals, which otelsetup.Setup sets (see Wiring it to real destinations).
	)
	if err != nil {
		return err
	}
	defer tracker.Close()

	mux.Handle("/cluster/status", tracker.StatusHandler()) // JSON: phase, seq, since, history
	mux.Handle("/readyz", tracker.ReadyHandler())          // 200 when Ready, else 503
	mux.Handle("/livez", tracker.LiveHandler())            // 200 unless Failed

	// Join on the default schedule: at once, then after 0.25, 0.5, 1, 2, 4, 8 and 16 s.
	var members []string
	for attempt, wait := range otellifecycle.DefaultJoinBackoff() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		tracker.ToJoining(ctx, uint32(attempt))
		if members, err = join(tracker.ContextWithPhase(ctx), seeds); err == nil {
			break
		}
	}
	if err != nil {
		tracker.ToFailed(ctx, err.Error()) // any text: it is normalized and bounded
		return err
	}
	tracker.ToReady(ctx, len(members))

	<-ctx.Done() // serve until asked to stop
	tracker.ToStopping(context.WithoutCancel(ctx))
	return nil
	// quickstart:end
}

// The Quick start: a node joins on its second attempt (after 250 ms), is
// Ready, then stops.
func Example_quickStart() {
	ctx, stop := context.WithCancel(context.Background())
	var calls atomic.Int32
	join := func(context.Context, []string) ([]string, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("seed 10.0.0.2:7000 refused")
		}
		return []string{"n1", "n2", "n3"}, nil
	}
	mux := http.NewServeMux()
	done := make(chan error)
	go func() { done <- runNode(ctx, mux, "n1", []string{"10.0.0.2:7000"}, join) }()
	for ready := false; !ready; time.Sleep(time.Millisecond) {
		ready = get(mux, "/readyz") == "ok"
	}
	fmt.Println(get(mux, "/readyz"), "after", calls.Load(), "join attempts")
	stop()
	fmt.Println(<-done)
	// Output:
	// ok after 2 join attempts
	// <nil>
}

func get(h http.Handler, path string) string {
	rec := &strings.Builder{}
	w := &bodyWriter{header: http.Header{}, body: rec}
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	h.ServeHTTP(w, req)
	return strings.TrimSpace(rec.String())
}

type bodyWriter struct {
	header http.Header
	body   *strings.Builder
}

func (w *bodyWriter) Header() http.Header         { return w.header }
func (w *bodyWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *bodyWriter) WriteHeader(int)             {}

// The README's Quick start is runNode's body, so it compiles and runs
// (Example_quickStart) and can never drift from the code.
func TestREADMEQuickStartIsCompiled(t *testing.T) {
	readme := testsupport.READMEBlock(t, "../README.md", "## Quick start")
	if code := testsupport.Marked(t, "quickstart_test.go", "quickstart"); readme != code {
		t.Fatalf("the README's Quick start differs from runNode in quickstart_test.go; README:\n%s\ncode:\n%s", readme, code)
	}
}
