package otelsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
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
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Exporter names, as the OTEL_*_EXPORTER variables spell them.
const (
	OTLP       = "otlp"
	Console    = "console"
	None       = "none"
	Prometheus = "prometheus" // metrics only
)

// Providers are the SDK providers Setup built, ready for a tracker.
type Providers struct {
	Tracer   *sdktrace.TracerProvider
	Meter    *sdkmetric.MeterProvider
	Logger   *sdklog.LoggerProvider
	Resource *resource.Resource
	// Prometheus is set when the metrics exporters include "prometheus":
	// mount Prometheus.Handler() at /metrics.
	Prometheus *promexport.Exporter

	shutdownOnce sync.Once
	shutdownErr  error
}

// TrackerOptions returns the options that give a tracker these providers.
func (p *Providers) TrackerOptions() []otellifecycle.Option {
	return []otellifecycle.Option{
		otellifecycle.WithTracerProvider(p.Tracer),
		otellifecycle.WithMeterProvider(p.Meter),
		otellifecycle.WithLoggerProvider(p.Logger),
	}
}

// Shutdown flushes and stops the three providers, in parallel, and returns
// when they are done or ctx ends, whichever is first. Later calls return
// the first call's result.
func (p *Providers) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		errs := make(chan error, 3)
		go func() { errs <- p.Tracer.Shutdown(ctx) }()
		go func() { errs <- p.Meter.Shutdown(ctx) }()
		go func() { errs <- p.Logger.Shutdown(ctx) }()
		var all []error
		for range 3 {
			select {
			case err := <-errs:
				all = append(all, err)
			case <-ctx.Done():
				all = append(all, fmt.Errorf("otelsetup: Shutdown: %w", ctx.Err()))
				p.shutdownErr = errors.Join(all...)
				return
			}
		}
		p.shutdownErr = errors.Join(all...)
	})
	return p.shutdownErr
}

type config struct {
	serviceName string
	instanceID  string
	attrs       []attribute.KeyValue
	defaults    [3]string // traces, metrics, logs
	readers     []sdkmetric.Reader
	prometheus  *promexport.Exporter
	console     io.Writer
	processors  []sdktrace.SpanProcessor
}

// Option configures Setup.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithServiceName names the service when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES does.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithInstanceID sets service.instance.id (default: a random id per call
// of Setup) unless OTEL_RESOURCE_ATTRIBUTES sets it.
func WithInstanceID(id string) Option {
	return optionFunc(func(c *config) { c.instanceID = id })
}

// WithAttributes adds resource attributes, under those of the environment.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}

// WithDefaultExporters sets the exporters used when OTEL_TRACES_EXPORTER,
// OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER is unset (each may be a
// comma-separated list; empty keeps otlp). A demo might use
// ("console", "none", "none").
func WithDefaultExporters(traces, metrics, logs string) Option {
	return optionFunc(func(c *config) {
		for i, v := range []string{traces, metrics, logs} {
			if v != "" {
				c.defaults[i] = v
			}
		}
	})
}

// WithMetricReader adds a reader to the MeterProvider besides the
// environment's choice, such as a promexport reader that serves /metrics
// whatever OTEL_METRICS_EXPORTER says.
func WithMetricReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.readers = append(c.readers, r)
		}
	})
}

// WithSpanProcessor adds a span processor besides the environment's
// exporters (a tail sampler, a test's recorder).
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return optionFunc(func(c *config) {
		if sp != nil {
			c.processors = append(c.processors, sp)
		}
	})
}

// WithPrometheus is the exporter "prometheus" in OTEL_METRICS_EXPORTER
// uses (by default, a new promexport.Exporter).
func WithPrometheus(p *promexport.Exporter) Option {
	return optionFunc(func(c *config) { c.prometheus = p })
}

// WithConsoleWriter is where the "console" exporters write (default
// standard output).
func WithConsoleWriter(w io.Writer) Option {
	return optionFunc(func(c *config) {
		if w != nil {
			c.console = w
		}
	})
}

// Setup builds the providers. It fails, naming the variable, on an
// exporter or protocol it does not know, and then leaves nothing running.
func Setup(ctx context.Context, opts ...Option) (*Providers, error) {
	c := config{defaults: [3]string{OTLP, OTLP, OTLP}, console: os.Stdout}
	for _, o := range opts {
		o.apply(&c)
	}
	res, err := c.resource(ctx)
	if err != nil {
		return nil, err
	}
	p := &Providers{Resource: res}
	var started []func(context.Context) error // undone on failure
	fail := func(err error) (*Providers, error) {
		for _, stop := range started {
			_ = stop(context.WithoutCancel(ctx))
		}
		return nil, err
	}

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, sp := range c.processors {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(sp))
	}
	names, err := c.exporters("OTEL_TRACES_EXPORTER", 0, OTLP, Console, None)
	if err != nil {
		return fail(err)
	}
	for _, name := range names {
		exp, err := c.spanExporter(ctx, name)
		if err != nil {
			return fail(err)
		}
		if exp != nil {
			bsp := sdktrace.NewBatchSpanProcessor(exp) // runs from now on: undo it on failure
			started = append(started, bsp.Shutdown)
			traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(bsp))
		}
	}

	metricOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	for _, r := range c.readers {
		metricOpts = append(metricOpts, sdkmetric.WithReader(r))
	}
	if names, err = c.exporters("OTEL_METRICS_EXPORTER", 1, OTLP, Console, None, Prometheus); err != nil {
		return fail(err)
	}
	for _, name := range names {
		r, err := c.metricReader(ctx, name, p)
		if err != nil {
			return fail(err)
		}
		if r != nil {
			started = append(started, r.Shutdown)
			metricOpts = append(metricOpts, sdkmetric.WithReader(r))
		}
	}

	logOpts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
	if names, err = c.exporters("OTEL_LOGS_EXPORTER", 2, OTLP, Console, None); err != nil {
		return fail(err)
	}
	for _, name := range names {
		exp, err := c.logExporter(ctx, name)
		if err != nil {
			return fail(err)
		}
		if exp != nil {
			blp := sdklog.NewBatchProcessor(exp)
			started = append(started, blp.Shutdown)
			logOpts = append(logOpts, sdklog.WithProcessor(blp))
		}
	}

	p.Tracer = sdktrace.NewTracerProvider(traceOpts...)
	p.Meter = sdkmetric.NewMeterProvider(metricOpts...)
	p.Logger = sdklog.NewLoggerProvider(logOpts...)
	return p, nil
}

// exporters reads a comma-separated exporter list from the variable env,
// falling back to the default for signal, and checks every name.
func (c *config) exporters(env string, signal int, allowed ...string) ([]string, error) {
	v := os.Getenv(env)
	if strings.TrimSpace(v) == "" {
		v = c.defaults[signal]
	}
	var names []string
	for _, n := range strings.Split(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || slices.Contains(names, n) {
			continue
		}
		if !slices.Contains(allowed, n) {
			return nil, fmt.Errorf("otelsetup: %s: unknown exporter %q (want one of %s)", env, n, strings.Join(allowed, ", "))
		}
		names = append(names, n)
	}
	if len(names) > 1 && slices.Contains(names, None) {
		return nil, fmt.Errorf("otelsetup: %s: %q cannot be combined with other exporters", env, None)
	}
	return names, nil
}

// protocol is the OTLP protocol for a signal: its own variable, then the
// general one, then the specification's default, http/protobuf.
func (c *config) protocol(signal string) (string, error) {
	env := "OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"
	v := os.Getenv(env)
	if v == "" {
		env = "OTEL_EXPORTER_OTLP_PROTOCOL"
		v = os.Getenv(env)
	}
	switch v {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "grpc", nil
	}
	return "", fmt.Errorf("otelsetup: %s: protocol %q is not supported (want grpc or http/protobuf)", env, v)
}

func (c *config) spanExporter(ctx context.Context, name string) (sdktrace.SpanExporter, error) {
	switch name {
	case Console:
		return stdouttrace.New(stdouttrace.WithWriter(c.console))
	case OTLP:
		proto, err := c.protocol("TRACES")
		if err != nil {
			return nil, err
		}
		if proto == "grpc" {
			return otlptracegrpc.New(ctx)
		}
		return otlptracehttp.New(ctx)
	}
	return nil, nil // none
}

func (c *config) metricReader(ctx context.Context, name string, p *Providers) (sdkmetric.Reader, error) {
	switch name {
	case Console:
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(c.console))
		if err != nil {
			return nil, err
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	case Prometheus:
		prom := c.prometheus
		if prom == nil {
			var err error
			if prom, err = promexport.New(); err != nil {
				return nil, err
			}
		}
		p.Prometheus = prom
		if slices.Contains(c.readers, prom.Reader()) {
			return nil, nil // already given with WithMetricReader
		}
		return prom.Reader(), nil
	case OTLP:
		proto, err := c.protocol("METRICS")
		if err != nil {
			return nil, err
		}
		var exp sdkmetric.Exporter
		if proto == "grpc" {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			return nil, err
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	}
	return nil, nil // none
}

func (c *config) logExporter(ctx context.Context, name string) (sdklog.Exporter, error) {
	switch name {
	case Console:
		return stdoutlog.New(stdoutlog.WithWriter(c.console))
	case OTLP:
		proto, err := c.protocol("LOGS")
		if err != nil {
			return nil, err
		}
		if proto == "grpc" {
			return otlploggrpc.New(ctx)
		}
		return otlploghttp.New(ctx)
	}
	return nil, nil // none
}

// resource describes the service and host. Later sources win: the
// options' defaults, then the host, then the environment.
func (c *config) resource(ctx context.Context) (*resource.Resource, error) {
	id := c.instanceID
	if id == "" {
		id = randomID()
	}
	name := c.serviceName
	if name == "" { // the specification's fallback
		name = "unknown_service:" + filepath.Base(os.Args[0])
	}
	defaults := []attribute.KeyValue{
		attribute.String("service.name", name),
		attribute.String("service.instance.id", id),
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(append(defaults, c.attrs...)...),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("otelsetup: resource: %w", err)
	}
	return res, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
