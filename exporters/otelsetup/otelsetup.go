package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Providers are the SDK providers Setup built, ready for a tracker.
type Providers struct {
	Tracer   *sdktrace.TracerProvider
	Meter    *sdkmetric.MeterProvider
	Logger   *sdklog.LoggerProvider
	Resource *resource.Resource // what every signal says about the process

	errs         *errorLimit // the global error handler Setup installed; nil with WithoutGlobals
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

// Shutdown flushes and stops the three providers (and so every exporter
// and reader, the WithPrometheus one included), in parallel, and returns
// when they are done or ctx ends, whichever is first. Then the error
// handler Setup installed reports the repeats it has held back. Later
// calls return the first call's result. The globals stay set: to
// providers that are shut down, which drop what they are given.
func (p *Providers) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		if p.errs != nil {
			defer p.errs.flush()
		}
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
				p.shutdownErr = errors.Join(append(all, fmt.Errorf("otelsetup: Shutdown: %w", ctx.Err()))...)
				return
			}
		}
		p.shutdownErr = errors.Join(all...)
	})
	return p.shutdownErr
}

// Setup builds the providers from the options and the OTEL_* environment.
//
// Unless WithoutGlobals is given, Setup also makes the providers the
// process's global ones, sets the global propagator from OTEL_PROPAGATORS
// and installs a global error handler that reports a repeated error once a
// minute (the package documentation, Globals and Errors, says why).
//
// The environment never stops a service from starting: a telemetry typo is
// not an outage. An exporter name or OTLP protocol it does not recognize,
// an exporter that cannot be built or a malformed OTEL_RESOURCE_ATTRIBUTES
// is reported through otel.Handle (by default, the standard logger) and
// ignored, as the specification asks of values not recognized; a signal
// left with no exporter gets its default (OTLP unless WithDefault*Exporter
// says otherwise). Setup fails only on invalid options, and then has
// started nothing.
func Setup(ctx context.Context, opts ...Option) (*Providers, error) {
	c := config{traces: OTLP, metrics: OTLP, logs: OTLP, console: os.Stdout}
	for _, o := range opts {
		o.apply(&c)
	}
	for _, d := range []struct{ option, name string }{
		{"WithDefaultTraceExporter", c.traces}, {"WithDefaultMetricExporter", c.metrics}, {"WithDefaultLogExporter", c.logs},
	} {
		if !slices.Contains([]string{OTLP, Console, None}, d.name) {
			return nil, fmt.Errorf("otelsetup: %s: unknown exporter %q (want otlp, console or none)", d.option, d.name)
		}
	}
	var errs *errorLimit
	if !c.noGlobals { // first, so that what Setup itself reports is limited too
		errs = newErrorLimit(otel.GetErrorHandler())
		otel.SetErrorHandler(errs)
	}
	res := c.resource(ctx)

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, sp := range c.processors {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(sp))
	}
	own := []string{OTLP, Console, None}
	spans := build(ctx, "OTEL_TRACES_EXPORTER", c.traces, own,
		func(ctx context.Context) (sdktrace.SpanExporter, error) { return autoexport.NewSpanExporter(ctx) }, c.spanExporter)
	for _, exp := range spans {
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
	}

	metricOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	ownMetrics := own
	if c.prometheus != nil {
		metricOpts = append(metricOpts, sdkmetric.WithReader(c.prometheus.Reader()))
		ownMetrics = append(slices.Clone(own), Prometheus)
	}
	readers := build(ctx, "OTEL_METRICS_EXPORTER", c.metrics, ownMetrics,
		func(ctx context.Context) (sdkmetric.Reader, error) { return autoexport.NewMetricReader(ctx) }, c.metricReader)
	for _, r := range readers {
		metricOpts = append(metricOpts, sdkmetric.WithReader(r))
	}

	logOpts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
	logs := build(ctx, "OTEL_LOGS_EXPORTER", c.logs, own,
		func(ctx context.Context) (sdklog.Exporter, error) { return autoexport.NewLogExporter(ctx) }, c.logExporter)
	for _, exp := range logs {
		logOpts = append(logOpts, sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	}

	p := &Providers{
		Tracer:   sdktrace.NewTracerProvider(traceOpts...),
		Meter:    sdkmetric.NewMeterProvider(metricOpts...),
		Logger:   sdklog.NewLoggerProvider(logOpts...),
		Resource: res,
		errs:     errs,
	}
	if !c.noGlobals {
		p.setGlobals()
	}
	return p, nil
}

// resource describes the service, the process and the host. Later sources
// win: the SDK's service defaults, the options, the detectors, the
// environment. Not resource.WithProcess: process.command_args may hold
// secrets.
func (c *config) resource(ctx context.Context) *resource.Resource {
	attrs := slices.Clone(c.attrs)
	if c.serviceName != "" {
		attrs = append(attrs, semconv.ServiceName(c.serviceName))
	}
	if c.instanceID != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(c.instanceID))
	}
	res, err := resource.New(ctx,
		resource.WithService(),
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithFromEnv(),
	)
	if err != nil { // what could be detected is in res
		otel.Handle(fmt.Errorf("otelsetup: resource: %w", err))
	}
	return res
}
