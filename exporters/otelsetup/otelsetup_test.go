package otelsetup_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

var ctx = context.Background()

// run sets providers up from the environment, drives a tracker through a
// join and shuts everything down, flushing.
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
	// Providers first, so their last collection sees the tracker's final
	// state; then the tracker (a closed tracker's series are gone).
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkArrived(t *testing.T, got snapshot) {
	t.Helper()
	if !slices.Contains(got.spans, "cluster.lifecycle") || !slices.Contains(got.spans, "cluster.lifecycle.joining") {
		t.Errorf("spans %q", got.spans)
	}
	if !slices.Contains(got.metrics, "cluster.lifecycle.state") || !slices.Contains(got.metrics, "cluster.lifecycle.transitions") {
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
	r, addr := grpcReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_SERVICE_NAME", "nodedb")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,service.instance.id=n1")
	run(t, otelsetup.WithServiceName("overridden-by-env"))
	checkArrived(t, r.got())
}

func TestOTLPOverHTTPWithHeaders(t *testing.T) {
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

// Per-signal endpoints and protocols win over the general ones.
func TestPerSignalEndpointsAndProtocols(t *testing.T) {
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

func TestConsoleNoneAndLists(t *testing.T) {
	r, url := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_TRACES_EXPORTER", "console, otlp")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_LOGS_EXPORTER", "none")
	var out bytes.Buffer
	run(t, otelsetup.WithConsoleWriter(&out))
	if !strings.Contains(out.String(), `"Name":"cluster.lifecycle.joining"`) {
		t.Fatalf("console got %q", out.String())
	}
	got := r.got()
	if len(got.spans) == 0 || len(got.metrics) != 0 || len(got.events) != 0 {
		t.Fatalf("otlp got spans %d metrics %d events %d", len(got.spans), len(got.metrics), len(got.events))
	}
}

func TestDefaultExportersApplyOnlyWhenTheEnvironmentIsSilent(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	t.Setenv("OTEL_LOGS_EXPORTER", "")
	var out bytes.Buffer
	run(t, otelsetup.WithDefaultExporters("console", "none", "none"), otelsetup.WithConsoleWriter(&out))
	if !strings.Contains(out.String(), `"Name":"cluster.lifecycle"`) {
		t.Fatalf("default console exporter wrote %q", out.String())
	}
}

func TestPrometheusIsAHandlerForTheCallersMux(t *testing.T) {
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_LOGS_EXPORTER", "none")
	p, err := otelsetup.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if p.Prometheus == nil {
		t.Fatal("no Prometheus exporter")
	}
	tr, _ := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
	defer tr.Close()
	tr.ToBootstrapping(ctx)
	srv := httptest.NewServer(p.Prometheus.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if !strings.Contains(b.String(), `cluster_lifecycle_state{`) {
		t.Fatalf("exposition: %s", b.String())
	}
}

func TestUnknownExportersAndProtocolsNameTheVariable(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{"OTEL_TRACES_EXPORTER", "zipkin", `OTEL_TRACES_EXPORTER: unknown exporter "zipkin"`},
		{"OTEL_LOGS_EXPORTER", "prometheus", `OTEL_LOGS_EXPORTER: unknown exporter "prometheus"`},
		{"OTEL_METRICS_EXPORTER", "none,otlp", `OTEL_METRICS_EXPORTER: "none" cannot be combined`},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", `OTEL_EXPORTER_OTLP_PROTOCOL: protocol "http/json" is not supported`},
		{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp", `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol "udp"`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			_, err := otelsetup.Setup(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Setup with %s=%q: %v, want %q", c.env, c.value, err, c.want)
			}
		})
	}
}

// blackHole accepts connections and never answers: a collector that is
// wedged rather than down.
func blackHole(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now: connections are refused
	return addr
}

// A collector that is down, or wedged, never holds up start-up or
// transitions; Shutdown returns by its deadline, and the exporters'
// in-flight work ends within their own timeouts, leaving no goroutine
// behind (TestMain checks).
func TestCollectorDownOrWedgedBlocksNothing(t *testing.T) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	for _, target := range []struct{ name, addr string }{{"refusing", refusing(t)}, {"wedged", blackHole(t)}} {
		for _, proto := range []string{"grpc", "http/protobuf"} {
			t.Run(target.name+"/"+proto, func(t *testing.T) {
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+target.addr)
				boundExporterWaits(t)
				start := time.Now()
				p, err := otelsetup.Setup(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("Setup took %v with the collector %s", d, target.name)
				}
				tr, _ := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for i := range 1000 {
						tr.ToJoining(ctx, uint32(i))
					}
				}()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatalf("transitions blocked with the collector %s", target.name)
				}
				sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				start = time.Now()
				_ = p.Shutdown(sctx)
				if d := time.Since(start); d > 1500*time.Millisecond {
					t.Fatalf("Shutdown took %v past a 500ms deadline", d)
				}
				_ = tr.Close()
			})
		}
	}
}

// A service that always serves /metrics gives its exporter both ways; the
// reader is registered once.
func TestPrometheusGivenBothWaysIsRegisteredOnce(t *testing.T) {
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_LOGS_EXPORTER", "none")
	prom, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := otelsetup.Setup(ctx, otelsetup.WithMetricReader(prom.Reader()), otelsetup.WithPrometheus(prom))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if p.Prometheus != prom {
		t.Fatal("Setup did not use the given exporter")
	}
}
