package otelsetup_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// quiet are the options that keep every exporter off, whatever OTEL_* says.
var quiet = []otelsetup.Option{
	otelsetup.WithDefaultTraceExporter(otelsetup.None),
	otelsetup.WithDefaultMetricExporter(otelsetup.None),
	otelsetup.WithDefaultLogExporter(otelsetup.None),
}

// Setup makes its providers the process's global ones, as OpenTelemetry's
// own setup code does: an instrument or a span another library makes from
// the globals reaches the same exporters as the tracker's, and the global
// propagator is OTEL_PROPAGATORS' (W3C trace context and baggage by
// default).
func TestSetupMakesItsProvidersTheGlobalOnes(t *testing.T) {
	cleanEnv(t)
	prom, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	p, err := otelsetup.Setup(ctx, append(quiet, otelsetup.WithPrometheus(prom), otelsetup.WithSpanProcessor(spans))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)

	if otel.GetTracerProvider() != p.Tracer || otel.GetMeterProvider() != p.Meter || otel.GetLoggerProvider() != p.Logger {
		t.Fatalf("the globals are not Setup's providers")
	}
	counter, err := otel.Meter("example.com/another/library").Int64Counter("another.library.requests")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(ctx, 1)
	_, span := otel.Tracer("example.com/another/library").Start(ctx, "another library's span")
	span.End()
	srv := httptest.NewServer(prom.Handler())
	defer srv.Close()
	if body := scrape(t, srv.URL); !strings.Contains(body, "another_library_requests_total{") {
		t.Errorf("an instrument made from the global MeterProvider is not in the exposition:\n%s", body)
	}
	if got := spans.Ended(); len(got) != 1 || got[0].Name() != "another library's span" {
		t.Errorf("spans from the global TracerProvider: %v", got)
	}

	fields := func() []string { return slices.Sorted(slices.Values(otel.GetTextMapPropagator().Fields())) }
	if got, want := fields(), []string{"baggage", "traceparent", "tracestate"}; !slices.Equal(got, want) {
		t.Errorf("default propagator's fields %q, want %q", got, want)
	}
	t.Setenv("OTEL_PROPAGATORS", "b3")
	p2, err := otelsetup.Setup(ctx, quiet...)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Shutdown(ctx)
	if got := fields(); !slices.Equal(got, []string{"b3"}) {
		t.Errorf("OTEL_PROPAGATORS=b3: fields %q", got)
	}
}

// WithoutGlobals, for a process that runs several services, leaves every
// global as it was: the providers, the propagator and the error handler.
func TestWithoutGlobalsLeavesTheGlobalsAlone(t *testing.T) {
	cleanEnv(t)
	tp, mp, lp := sdktrace.NewTracerProvider(), sdkmetric.NewMeterProvider(), sdklog.NewLoggerProvider()
	defer tp.Shutdown(ctx)
	defer mp.Shutdown(ctx)
	defer lp.Shutdown(ctx)
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetLoggerProvider(lp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	errs := testsupport.CaptureOTelErrors(t)

	p, err := otelsetup.Setup(ctx, append(quiet, otelsetup.WithoutGlobals())...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if otel.GetTracerProvider() != tp || otel.GetMeterProvider() != mp || otel.GetLoggerProvider() != lp {
		t.Error("WithoutGlobals: a global provider changed")
	}
	if _, ok := otel.GetTextMapPropagator().(propagation.TraceContext); !ok {
		t.Errorf("WithoutGlobals: the propagator is now %T", otel.GetTextMapPropagator())
	}
	if otel.GetErrorHandler() != otel.ErrorHandler(errs) {
		t.Errorf("WithoutGlobals: the error handler is now %T", otel.GetErrorHandler())
	}
}

// A handler the service installed before Setup still gets the errors,
// each distinct one once and its repeats when Shutdown reports them.
func TestAnErrorHandlerInstalledBeforeSetupStillGetsTheErrors(t *testing.T) {
	cleanEnv(t)
	errs := testsupport.CaptureOTelErrors(t)
	p, err := otelsetup.Setup(ctx, quiet...)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		otel.Handle(fmt.Errorf("disk full"))
	}
	otel.Handle(fmt.Errorf("another error"))
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, err := range errs.All() {
		got = append(got, err.Error())
	}
	want := []string{"disk full", "another error", "disk full (and 4 more times in the last 0s)"}
	if !slices.Equal(got, want) {
		t.Fatalf("the handler installed before Setup got %q, want %q", got, want)
	}
}

// exportRepeatsEnv marks the child process of
// TestRepeatedExportErrorsAreLoggedOnce.
const exportRepeatsEnv = "OTELSETUP_TEST_EXPORT_REPEATS"

// A service with no collector and no error handler of its own: every
// export fails, every 50ms here (every few seconds in a service), with the
// same error. The standard logger gets each distinct error once, and at
// Shutdown the count of its repeats, instead of a line for every export.
// It runs in a process of its own, where nothing has set an error handler
// yet, as in a service.
func TestRepeatedExportErrorsAreLoggedOnce(t *testing.T) {
	if os.Getenv(exportRepeatsEnv) == "child" {
		exportRepeatsChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRepeatedExportErrorsAreLoggedOnce$", "-test.count=1")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, exportRepeatsEnv+"=child",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+refusing(t),
		"OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_BLRP_SCHEDULE_DELAY=50", "OTEL_METRIC_EXPORT_INTERVAL=50",
		"OTEL_EXPORTER_OTLP_TIMEOUT=300", "OTEL_BSP_EXPORT_TIMEOUT=300", "OTEL_BLRP_EXPORT_TIMEOUT=300", "OTEL_METRIC_EXPORT_TIMEOUT=300")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var lines, repeats []string
	held := 0
	more := regexp.MustCompile(`\(and (\d+) more times in the last \d+s\)$`)
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if !strings.Contains(line, "connection refused") {
			continue
		}
		lines = append(lines, line)
		if m := more.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			held += n
			repeats = append(repeats, line)
		}
	}
	t.Logf("%d lines logged, %d of them with the count of repeats, %d repeats held back:\n%s",
		len(lines), len(repeats), held, strings.Join(lines, "\n"))
	if distinct := len(lines) - len(repeats); len(repeats) > distinct || distinct > 6 {
		t.Fatalf("%d distinct errors logged and %d lines of repeats, want each error once (at most two per signal) and each one's repeats once", distinct, len(repeats))
	}
	if held < 10 {
		t.Fatalf("%d repeats held back, want 10 or more: the exports did not fail often enough to tell; output:\n%s", held, out)
	}
}

// exportRepeatsChild runs a tracker through 40 transitions over 2s with
// every signal exported to a collector that refuses connections, then
// shuts down as a service does.
func exportRepeatsChild(t *testing.T) {
	p, err := otelsetup.Setup(ctx, otelsetup.WithServiceName("nodedb"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		tr.ToJoining(ctx, uint32(i))
		time.Sleep(50 * time.Millisecond)
	}
	_ = tr.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.Shutdown(sctx) // its error is the caller's, not the log's
}
