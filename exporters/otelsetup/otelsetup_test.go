package otelsetup_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

var ctx = context.Background()

// cleanEnv unsets, for the test, every OTEL_* variable the process has, so
// a test sees only what it sets (the specification reads empty as unset).
func cleanEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
}

// warnings collects, as text, what otel.Handle reports until the test ends.
func warnings(t *testing.T) func() []string {
	log := testsupport.CaptureOTelErrors(t)
	return func() []string {
		var out []string
		for _, err := range log.All() {
			out = append(out, err.Error())
		}
		return out
	}
}

// run sets providers up from the environment, drives a tracker through a
// join and shuts down as a service does (Example): the tracker first, which
// flushes its final state, then the providers.
func run(t *testing.T, opts ...otelsetup.Option) *otelsetup.Providers {
	t.Helper()
	p, err := otelsetup.Setup(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	return p
}

func checkArrived(t *testing.T, got snapshot) {
	t.Helper()
	if !slices.Contains(got.spans, "cluster.lifecycle") || !slices.Contains(got.spans, "cluster.lifecycle.joining") {
		t.Errorf("spans %q", got.spans)
	}
	if !slices.Contains(got.metrics, "cluster.lifecycle.state") || !slices.Contains(got.metrics, "cluster.lifecycle.phase.entries") {
		t.Errorf("metrics %q", got.metrics)
	}
	if !slices.Contains(got.events, "cluster.lifecycle.transition") {
		t.Errorf("log events %q", got.events)
	}
	if len(got.res) == 0 {
		t.Fatal("nothing arrived")
	}
	for _, r := range got.res {
		if attr(r, "service.name") != "nodedb" || attr(r, "service.instance.id") != "n1" ||
			attr(r, "deployment.environment.name") != "test" || attr(r, "host.name") == "" {
			t.Fatalf("resource %v", r.GetAttributes())
		}
	}
}

func TestOTLPOverGRPC(t *testing.T) {
	cleanEnv(t)
	r, addr := grpcReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_SERVICE_NAME", "nodedb")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,service.instance.id=n1")
	run(t, otelsetup.WithServiceName("overridden-by-env"))
	checkArrived(t, r.got())
}

func TestOTLPOverHTTPWithHeaders(t *testing.T) {
	cleanEnv(t)
	r, url := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	run(t, otelsetup.WithServiceName("nodedb"), otelsetup.WithInstanceID("n1"))
	got := r.got()
	checkArrived(t, got)
	for _, h := range got.headers {
		if h.Get("Authorization") != "Bearer s3cret" {
			t.Fatalf("headers %v", h)
		}
	}
}

// With no OTEL_* variable at all, OTLP goes where the specification says:
// http://localhost:4318 over http/protobuf, in plain text (and
// http://localhost:4317 for gRPC). The receiver stands on that very port;
// the test is skipped, saying why, when something else holds it.
func TestWithNoEnvironmentOTLPIsPlainTextToLocalhost(t *testing.T) {
	for _, c := range []struct {
		protocol, port string
		receive        func(testing.TB, net.Listener) (*receiver, string)
	}{
		{"", "4318", httpReceiverOn},
		{"grpc", "4317", grpcReceiverOn},
	} {
		t.Run("protocol="+c.protocol, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol) // "" is unset
			lis, err := net.Listen("tcp", "127.0.0.1:"+c.port)
			if err != nil {
				t.Skipf("cannot stand in for the default collector on 127.0.0.1:%s: %v", c.port, err)
			}
			r, _ := c.receive(t, lis)
			run(t, otelsetup.WithServiceName("nodedb"), otelsetup.WithInstanceID("n1"),
				otelsetup.WithResourceAttributes(attribute.String("deployment.environment.name", "test")))
			checkArrived(t, r.got())
		})
	}
}

// Per-signal endpoints and protocols win over the general ones.
func TestPerSignalEndpointsAndProtocols(t *testing.T) {
	cleanEnv(t)
	traces, traceURL := httpReceiver(t)
	rest, addr := grpcReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traceURL+"/v1/traces")
	run(t)
	if got := traces.got(); len(got.spans) == 0 || len(got.metrics) != 0 {
		t.Fatalf("trace endpoint got spans %q metrics %q", got.spans, got.metrics)
	}
	if got := rest.got(); len(got.spans) != 0 || len(got.metrics) == 0 || len(got.events) == 0 {
		t.Fatalf("general endpoint got spans %q metrics %d events %d", got.spans, len(got.metrics), len(got.events))
	}
}

// A list sends a signal to each exporter in it (autoexport reads one name:
// TestAutoexportReadsOneNameOnly); "none" among others adds nothing.
func TestExporterListsSendToEach(t *testing.T) {
	cleanEnv(t)
	r, url := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_TRACES_EXPORTER", "console, OTLP")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_LOGS_EXPORTER", "none,otlp")
	var out bytes.Buffer
	run(t, otelsetup.WithConsoleWriter(&out))
	if !strings.Contains(out.String(), `"Name":"cluster.lifecycle.joining"`) {
		t.Fatalf("console got %q", out.String())
	}
	got := r.got()
	if len(got.spans) == 0 || len(got.metrics) != 0 || len(got.events) == 0 {
		t.Fatalf("otlp got spans %d metrics %d events %d", len(got.spans), len(got.metrics), len(got.events))
	}
}

func TestDefaultExportersApplyOnlyWhenTheEnvironmentIsSilent(t *testing.T) {
	cleanEnv(t)
	var out bytes.Buffer
	run(t, otelsetup.WithDefaultTraceExporter(otelsetup.Console), otelsetup.WithDefaultMetricExporter(otelsetup.None),
		otelsetup.WithDefaultLogExporter(otelsetup.None), otelsetup.WithConsoleWriter(&out))
	if !strings.Contains(out.String(), `"Name":"cluster.lifecycle"`) {
		t.Fatalf("default console exporter wrote %q", out.String())
	}

	r, url := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	out.Reset()
	run(t, otelsetup.WithDefaultTraceExporter(otelsetup.Console), otelsetup.WithDefaultMetricExporter(otelsetup.None),
		otelsetup.WithDefaultLogExporter(otelsetup.None), otelsetup.WithConsoleWriter(&out))
	if out.Len() != 0 || len(r.got().spans) == 0 {
		t.Fatalf("OTEL_TRACES_EXPORTER=otlp: console wrote %d bytes, otlp got %d spans", out.Len(), len(r.got().spans))
	}
}

func TestDefaultExporterOptionsNameTheOption(t *testing.T) {
	cleanEnv(t)
	for _, o := range []struct {
		name string
		opt  otelsetup.Option
	}{
		{"WithDefaultTraceExporter", otelsetup.WithDefaultTraceExporter("zipkin")},
		{"WithDefaultMetricExporter", otelsetup.WithDefaultMetricExporter(otelsetup.Prometheus)},
		{"WithDefaultLogExporter", otelsetup.WithDefaultLogExporter("")},
	} {
		p, err := otelsetup.Setup(ctx, o.opt)
		if err == nil || !strings.Contains(err.Error(), "otelsetup: "+o.name+": unknown exporter") {
			t.Fatalf("%s: Setup = %v, %v", o.name, p, err)
		}
	}
}

// A typo in telemetry settings is not an outage: what the environment names
// and otelsetup cannot use is reported through otel.Handle, naming the
// variable, and ignored, as the specification asks of a value it does not
// recognize; the signal falls back to its default. Setup succeeds.
func TestWhatTheEnvironmentGetsWrongIsAWarningNotAFailure(t *testing.T) {
	cases := []struct {
		env, value string
		want       string // in every warning (the SDK's providers repeat a resource's)
		check      func(t *testing.T, console string, got snapshot)
	}{
		{"OTEL_TRACES_EXPORTER", "bogus", `OTEL_TRACES_EXPORTER="bogus": unknown exporter`, consoleHasSpans},
		{"OTEL_TRACES_EXPORTER", "console,zipkin", `OTEL_TRACES_EXPORTER: exporter "zipkin" ignored`, consoleHasSpans},
		{"OTEL_TRACES_EXPORTER", ",", `OTEL_TRACES_EXPORTER="," names no exporter`, consoleHasSpans},
		{"OTEL_LOGS_EXPORTER", "prometheus", `OTEL_LOGS_EXPORTER="prometheus": unknown exporter`, consoleHasSpans},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", `OTEL_EXPORTER_OTLP_PROTOCOL: protocol "http/json" ignored`, otlpHasMetrics},
		{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp", `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol "udp" ignored`, otlpHasMetrics},
		{"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name", `partial resource: missing value`, consoleHasSpans},
	}
	for _, c := range cases {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			cleanEnv(t)
			r, url := httpReceiver(t) // the metrics' default, over http/protobuf
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
			t.Setenv(c.env, c.value)
			got := warnings(t)
			var out bytes.Buffer
			run(t, otelsetup.WithDefaultTraceExporter(otelsetup.Console), otelsetup.WithDefaultLogExporter(otelsetup.None),
				otelsetup.WithConsoleWriter(&out))
			w := got()
			if len(w) == 0 || slices.ContainsFunc(w, func(w string) bool { return !strings.Contains(w, c.want) }) {
				t.Fatalf("warnings %q, want each to say %q", w, c.want)
			}
			c.check(t, out.String(), r.got())
		})
	}
}

func consoleHasSpans(t *testing.T, console string, _ snapshot) {
	if !strings.Contains(console, `"Name":"cluster.lifecycle"`) {
		t.Fatalf("the default console exporter wrote %q", console)
	}
}

func otlpHasMetrics(t *testing.T, _ string, got snapshot) {
	if !slices.Contains(got.metrics, "cluster.lifecycle.state") {
		t.Fatalf("http/protobuf receiver got metrics %q", got.metrics)
	}
}

// scrape GETs url and returns the body.
func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, res.Status, err)
	}
	return string(b)
}

// WithPrometheus's reader is attached whatever OTEL_METRICS_EXPORTER says,
// and "prometheus" there means that reader: the SDK registers it once (it
// would log a duplicate registration) and no second server starts (it
// would fail on the port the test holds, and warn).
func TestWithPrometheusIsTheOnlyPrometheusReader(t *testing.T) {
	for _, metrics := range []string{"prometheus", "prometheus,console", "none", ""} {
		t.Run("OTEL_METRICS_EXPORTER="+metrics, func(t *testing.T) {
			cleanEnv(t)
			held := listen(t, "127.0.0.1:0")
			defer held.Close()
			host, port, _ := net.SplitHostPort(held.Addr().String())
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", host)
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)
			t.Setenv("OTEL_METRICS_EXPORTER", metrics)
			warned := warnings(t)
			var mu sync.Mutex
			var sdkLog []string
			otel.SetLogger(funcr.New(func(prefix, args string) {
				mu.Lock()
				defer mu.Unlock()
				sdkLog = append(sdkLog, prefix+args)
			}, funcr.Options{}))
			defer otel.SetLogger(funcr.New(func(string, string) {}, funcr.Options{}))

			prom, err := promexport.New()
			if err != nil {
				t.Fatal(err)
			}
			p, err := otelsetup.Setup(ctx, otelsetup.WithPrometheus(prom), otelsetup.WithDefaultMetricExporter(otelsetup.None),
				otelsetup.WithDefaultTraceExporter(otelsetup.None), otelsetup.WithDefaultLogExporter(otelsetup.None),
				otelsetup.WithConsoleWriter(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(ctx)
			tr, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			tr.ToBootstrapping(ctx)
			mux := http.NewServeMux()
			mux.Handle("/metrics", prom.Handler())
			srv := httptest.NewServer(mux)
			defer srv.Close()
			if body := scrape(t, srv.URL+"/metrics"); strings.Count(body, `cluster_lifecycle_state{`) != len(otellifecycle.Phases()) ||
				!strings.Contains(body, `state="bootstrapping"} 1`) {
				t.Fatalf("exposition:\n%s", body)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sdkLog) != 0 || len(warned()) != 0 {
				t.Fatalf("SDK log %q, warnings %q", sdkLog, warned())
			}
		})
	}
}

// Without WithPrometheus, OTEL_METRICS_EXPORTER=prometheus is what
// autoexport does: a server of its own on OTEL_EXPORTER_PROMETHEUS_HOST
// and _PORT, stopped by Shutdown.
func TestPrometheusWithoutWithPrometheusIsAutoexportsServer(t *testing.T) {
	cleanEnv(t)
	lis := listen(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(lis.Addr().String())
	lis.Close() // free for autoexport's server
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", host)
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	warned := warnings(t)
	p, err := otelsetup.Setup(ctx, otelsetup.WithDefaultTraceExporter(otelsetup.None), otelsetup.WithDefaultLogExporter(otelsetup.None))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	tr.ToBootstrapping(ctx)
	url := "http://" + net.JoinHostPort(host, port) + "/metrics"
	if body := scrape(t, url); !strings.Contains(body, `cluster_lifecycle_state{`) {
		t.Fatalf("exposition:\n%s", body)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("autoexport's server still serves after Shutdown")
	}
	if w := warned(); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
}

// names is a span exporter that keeps the names of what it exports.
type names struct {
	mu  sync.Mutex
	got []string
}

func (n *names) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range spans {
		n.got = append(n.got, s.Name())
	}
	return nil
}

func (*names) Shutdown(context.Context) error { return nil }

var (
	registered     = &names{}
	registerOnce   sync.Once
	registeredName = "otelsetup-test-names"
)

// A name otelsetup does not build itself, alone in its variable, is
// autoexport's: an exporter registered there is used.
func TestOtherNamesAreAutoexports(t *testing.T) {
	cleanEnv(t)
	registerOnce.Do(func() {
		autoexport.RegisterSpanExporter(registeredName, func(context.Context) (sdktrace.SpanExporter, error) { return registered, nil })
	})
	t.Setenv("OTEL_TRACES_EXPORTER", registeredName)
	warned := warnings(t)
	run(t, otelsetup.WithDefaultMetricExporter(otelsetup.None), otelsetup.WithDefaultLogExporter(otelsetup.None))
	registered.mu.Lock()
	defer registered.mu.Unlock()
	if !slices.Contains(registered.got, "cluster.lifecycle.joining") {
		t.Fatalf("the registered exporter got %q", registered.got)
	}
	if w := warned(); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
}

func TestResourceNamesServiceProcessAndHost(t *testing.T) {
	cleanEnv(t)
	res := func(opts ...otelsetup.Option) map[string]string {
		t.Helper()
		p, err := otelsetup.Setup(ctx, append(opts, otelsetup.WithDefaultTraceExporter(otelsetup.None),
			otelsetup.WithDefaultMetricExporter(otelsetup.None), otelsetup.WithDefaultLogExporter(otelsetup.None))...)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown(ctx)
		m := map[string]string{}
		for _, kv := range p.Resource.Attributes() {
			m[string(kv.Key)] = kv.Value.String()
		}
		return m
	}
	got := res(otelsetup.WithServiceName("nodedb"), otelsetup.WithInstanceID("n1"),
		otelsetup.WithResourceAttributes(attribute.String("deployment.environment.name", "test")))
	for k, want := range map[string]string{"service.name": "nodedb", "service.instance.id": "n1",
		"deployment.environment.name": "test", "telemetry.sdk.language": "go"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, k := range []string{"host.name", "process.pid", "process.runtime.version", "os.type"} {
		if got[k] == "" {
			t.Errorf("no %s in %v", k, got)
		}
	}

	// Without options, the SDK's own defaults (resource.WithService).
	a, b := res(), res()
	if !strings.HasPrefix(a["service.name"], "unknown_service:") || a["service.instance.id"] == "" ||
		a["service.instance.id"] == b["service.instance.id"] {
		t.Errorf("defaults: service.name %q, instance ids %q and %q", a["service.name"], a["service.instance.id"], b["service.instance.id"])
	}

	// The environment wins over the options.
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=env-1")
	if got := res(otelsetup.WithServiceName("nodedb"), otelsetup.WithInstanceID("n1")); got["service.name"] != "from-env" ||
		got["service.instance.id"] != "env-1" {
		t.Errorf("service.name %q, service.instance.id %q", got["service.name"], got["service.instance.id"])
	}
}

// blackHole accepts connections and never answers: a collector that is
// wedged rather than down.
func blackHole(t testing.TB) string {
	t.Helper()
	lis := listen(t, "127.0.0.1:0")
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// boundExporterWaits shortens the exporters' own timeouts (300ms), so what
// they have in flight at Shutdown ends soon after it.
func boundExporterWaits(t testing.TB) {
	for _, env := range []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BLRP_EXPORT_TIMEOUT", "OTEL_METRIC_EXPORT_TIMEOUT"} {
		t.Setenv(env, "300")
	}
}

func refusing(t testing.TB) string {
	t.Helper()
	lis := listen(t, "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now: connections are refused
	return addr
}

// within bounds runs f and fails the test if it has not returned within
// limit: a bound on a hang, generous enough never to measure speed.
func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s has not returned after %v", what, limit)
	}
}

// A collector that is down, or wedged, never holds up start-up or
// transitions; Shutdown returns once its context ends, and the exporters'
// in-flight work ends within their own timeouts, leaving no goroutine
// behind (TestMain checks).
func TestCollectorDownOrWedgedBlocksNothing(t *testing.T) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	for _, target := range []struct{ name, addr string }{{"refusing", refusing(t)}, {"wedged", blackHole(t)}} {
		for _, proto := range []string{"grpc", "http/protobuf"} {
			t.Run(target.name+"/"+proto, func(t *testing.T) {
				cleanEnv(t)
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+target.addr)
				boundExporterWaits(t)
				var p *otelsetup.Providers
				var err error
				within(t, 20*time.Second, "Setup", func() { p, err = otelsetup.Setup(ctx) })
				if err != nil {
					t.Fatal(err)
				}
				tr, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
				if err != nil {
					t.Fatal(err)
				}
				within(t, 20*time.Second, "1000 transitions", func() {
					for i := range 1000 {
						tr.ToJoining(ctx, uint32(i))
					}
				})
				sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				within(t, 20*time.Second, "Shutdown with a 500ms deadline", func() { _ = p.Shutdown(sctx) })
				_ = tr.Close()
			})
		}
	}
}
