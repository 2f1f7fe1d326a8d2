package otelsetup_test

// What go.opentelemetry.io/contrib/exporters/autoexport (v0.72.0) does not
// do, and otelsetup therefore does itself (exporters.go names each test).
// When one of these fails, autoexport has learnt it: use it, and delete
// otelsetup's own code for it.

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The specification allows OTEL_TRACES_EXPORTER=otlp,console; autoexport
// looks the whole value up as one name.
func TestAutoexportReadsOneNameOnly(t *testing.T) {
	cleanEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp,console")
	if exp, err := autoexport.NewSpanExporter(ctx); err == nil {
		_ = exp.Shutdown(ctx)
		t.Fatal("autoexport accepts a list: let it build lists")
	}
}

// The specification says to warn about a value not recognized and ignore
// it; autoexport fails, which would stop the service.
func TestAutoexportFailsOnAnUnknownName(t *testing.T) {
	cleanEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "bogus")
	if exp, err := autoexport.NewSpanExporter(ctx); err == nil {
		_ = exp.Shutdown(ctx)
		t.Fatal("autoexport accepts an unknown name")
	}
}

// With no endpoint variable, the specification's endpoint is
// http://localhost:4318, plain text; autoexport's OTLP exporter opens it
// with a TLS handshake (the Go exporters default to https). The listener
// stands on that port; the test is skipped when something else holds it.
func TestAutoexportDialsTheDefaultEndpointWithTLS(t *testing.T) {
	cleanEnv(t)
	lis, err := net.Listen("tcp", "127.0.0.1:4318")
	if err != nil {
		t.Skipf("cannot stand in for the default collector on 127.0.0.1:4318: %v", err)
	}
	defer lis.Close()
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	first := make(chan byte, 1)
	go func() {
		defer cancel() // the export has shown what it sends first
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 1)
		if _, err := c.Read(b); err == nil {
			first <- b[0]
		}
	}()
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = exp.ExportSpans(ectx, tracetest.SpanStubs{{Name: "probe"}}.Snapshots()) // fails: nothing answers
	_ = exp.Shutdown(ctx)
	lis.Close()
	select {
	case b := <-first:
		if b != 0x16 { // a TLS record of type handshake
			t.Fatalf("autoexport's default OTLP exporter sent %#x first, not a TLS handshake: it speaks plain text now", b)
		}
	default:
		t.Fatal("autoexport's default OTLP exporter never reached localhost:4318")
	}
}

// autoexport serves OTEL_METRICS_EXPORTER=prometheus on a server of its
// own, and its registry cannot map the name to the caller's reader:
// "prometheus" is taken.
func TestAutoexportServesPrometheusOnItsOwnPort(t *testing.T) {
	cleanEnv(t)
	lis := listen(t, "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(lis.Addr().String())
	lis.Close()
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", host)
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)
	warnings(t) // the reader, on no MeterProvider, complains when scraped
	r, err := autoexport.NewMetricReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)
	res, err := http.Get("http://" + net.JoinHostPort(host, port) + "/metrics")
	if err != nil {
		t.Fatalf("autoexport's Prometheus reader serves no port of its own: %v", err)
	}
	res.Body.Close()

	defer func() {
		if recover() == nil {
			t.Fatal(`autoexport let "prometheus" be registered again: map it to the caller's reader there`)
		}
	}()
	autoexport.RegisterMetricReader("prometheus", func(context.Context) (sdkmetric.Reader, error) { return nil, nil })
}
