package otelsetup

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporter names, as the OTEL_*_EXPORTER variables spell them.
const (
	OTLP       = "otlp"
	Console    = "console"
	None       = "none"
	Prometheus = "prometheus" // metrics only: the WithPrometheus reader
)

// Why otelsetup builds otlp and console itself instead of asking
// autoexport, which reads the same variables: autoexport builds exactly the
// one name its variable holds, so it cannot build
//   - one exporter of a list such as "otlp,console" (the specification
//     allows lists; TestAutoexportReadsOneNameOnly),
//   - the default after an unknown name, which the specification says to
//     ignore with a warning (autoexport fails: TestAutoexportFailsOnAnUnknownName),
//   - an OTLP exporter that speaks plain HTTP to the specification's default
//     endpoint, http://localhost:4318 (the Go exporters default to TLS:
//     TestAutoexportDialsTheDefaultEndpointWithTLS),
//   - "prometheus" on the caller's mux (it starts a server of its own:
//     TestAutoexportServesPrometheusOnItsOwnPort).
// Every other name, alone in its variable, is autoexport's: its own
// prometheus server, and whatever was added with autoexport.Register*.

// build returns the exporters the variable env names, built by named for
// the names in own and by autoexport for another name that stands alone.
// The environment never fails Setup: whatever cannot be used is reported
// through otel.Handle and ignored, and when nothing is left, def applies.
func build[E any](ctx context.Context, env, def string, own []string,
	auto func(context.Context) (E, error), named func(context.Context, string) (E, error),
) []E {
	names, alone := exporterNames(env, def, own)
	if alone {
		e, err := auto(ctx)
		if err == nil {
			return []E{e}
		}
		otel.Handle(fmt.Errorf("otelsetup: %s=%q: %w; using %s instead", env, os.Getenv(env), err, def))
		names = []string{def}
	}
	var out []E
	for _, n := range names {
		if n == None || n == Prometheus { // Prometheus: the WithPrometheus reader, attached already
			continue
		}
		e, err := named(ctx, n)
		if err != nil {
			otel.Handle(fmt.Errorf("otelsetup: %s: %s exporter: %w", env, n, err))
			continue
		}
		out = append(out, e)
	}
	return out
}

// exporterNames reads the comma-separated names in env (any case, spaces
// allowed). It returns those in own, in order and once each ("none" among
// others adds nothing); or alone, when env holds one name not in own.
func exporterNames(env, def string, own []string) (names []string, alone bool) {
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return []string{def}, false
	}
	if !strings.Contains(v, ",") && !slices.Contains(own, strings.ToLower(v)) {
		return nil, true
	}
	for n := range strings.SplitSeq(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == "" || slices.Contains(names, n):
		case slices.Contains(own, n):
			names = append(names, n)
		default:
			otel.Handle(fmt.Errorf("otelsetup: %s: exporter %q ignored: a list may hold only %s", env, n, strings.Join(own, ", ")))
		}
	}
	if len(names) == 0 {
		otel.Handle(fmt.Errorf("otelsetup: %s=%q names no exporter; using %s instead", env, v, def))
		return []string{def}, false
	}
	return names, false
}

func (c *config) spanExporter(ctx context.Context, name string) (sdktrace.SpanExporter, error) {
	if name == Console {
		return stdouttrace.New(stdouttrace.WithWriter(c.console))
	}
	grpc, plain := otlpTransport("TRACES")
	if grpc {
		return otlptracegrpc.New(ctx, when(plain, otlptracegrpc.WithInsecure())...)
	}
	return otlptracehttp.New(ctx, when(plain, otlptracehttp.WithInsecure())...)
}

func (c *config) metricReader(ctx context.Context, name string) (sdkmetric.Reader, error) {
	exp, err := c.metricExporter(ctx, name)
	if err != nil {
		return nil, err
	}
	return sdkmetric.NewPeriodicReader(exp), nil
}

func (c *config) metricExporter(ctx context.Context, name string) (sdkmetric.Exporter, error) {
	if name == Console {
		return stdoutmetric.New(stdoutmetric.WithWriter(c.console))
	}
	grpc, plain := otlpTransport("METRICS")
	if grpc {
		return otlpmetricgrpc.New(ctx, when(plain, otlpmetricgrpc.WithInsecure())...)
	}
	return otlpmetrichttp.New(ctx, when(plain, otlpmetrichttp.WithInsecure())...)
}

func (c *config) logExporter(ctx context.Context, name string) (sdklog.Exporter, error) {
	if name == Console {
		return stdoutlog.New(stdoutlog.WithWriter(c.console))
	}
	grpc, plain := otlpTransport("LOGS")
	if grpc {
		return otlploggrpc.New(ctx, when(plain, otlploggrpc.WithInsecure())...)
	}
	return otlploghttp.New(ctx, when(plain, otlploghttp.WithInsecure())...)
}

// otlpTransport reads how a signal (TRACES, METRICS, LOGS) reaches its
// collector. grpc: OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL, says grpc rather than http/protobuf (the
// default; another value is reported and ignored). plain: no endpoint
// variable is set, so the exporter targets the specification's default,
// http://localhost:4318 (4317 for gRPC), whose scheme means no TLS; the Go
// exporters would dial it with TLS (TestAutoexportDialsTheDefaultEndpointWithTLS).
// A variable's own http:// or https:// scheme is the exporters' to read.
func otlpTransport(signal string) (grpc, plain bool) {
	plain = strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) == "" &&
		strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT")) == ""
	for _, env := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		switch v := strings.TrimSpace(os.Getenv(env)); v {
		case "":
		case "grpc", "http/protobuf":
			return v == "grpc", plain
		default:
			otel.Handle(fmt.Errorf("otelsetup: %s: protocol %q ignored (want grpc or http/protobuf)", env, v))
		}
	}
	return false, plain
}

// when returns opt if cond holds, else nothing.
func when[O any](cond bool, opt O) []O {
	if cond {
		return []O{opt}
	}
	return nil
}
