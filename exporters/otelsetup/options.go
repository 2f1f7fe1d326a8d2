package otelsetup

import (
	"io"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lifecyclekit/lifecycle/exporters/promexport"
)

type config struct {
	serviceName string
	instanceID  string
	attrs       []attribute.KeyValue
	// The exporter of each signal when its OTEL_*_EXPORTER is unset.
	traces, metrics, logs string
	prometheus            *promexport.Exporter
	console               io.Writer
	processors            []sdktrace.SpanProcessor
	noGlobals             bool
}

// Option configures Setup.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithServiceName sets service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES does (default: unknown_service:<executable>).
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithInstanceID sets service.instance.id unless OTEL_RESOURCE_ATTRIBUTES
// does (default: a random UUID per call of Setup).
func WithInstanceID(id string) Option {
	return optionFunc(func(c *config) { c.instanceID = id })
}

// WithResourceAttributes adds attributes to the resource, which describes
// the process once for every span, metric and log record it exports;
// OTEL_RESOURCE_ATTRIBUTES wins over them. (otellifecycle.WithAttributes
// is another thing: attributes on each of the tracker's points and spans.)
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}

// WithDefaultTraceExporter sets the trace exporter used while
// OTEL_TRACES_EXPORTER is unset or names nothing usable: OTLP (the
// specification's default), Console or None.
func WithDefaultTraceExporter(name string) Option {
	return optionFunc(func(c *config) { c.traces = name })
}

// WithDefaultMetricExporter sets the metric exporter used while
// OTEL_METRICS_EXPORTER is unset or names nothing usable: OTLP (the
// specification's default), Console or None. A WithPrometheus reader is
// attached whatever this says.
func WithDefaultMetricExporter(name string) Option {
	return optionFunc(func(c *config) { c.metrics = name })
}

// WithDefaultLogExporter sets the log exporter used while
// OTEL_LOGS_EXPORTER is unset or names nothing usable: OTLP (the
// specification's default), Console or None.
func WithDefaultLogExporter(name string) Option {
	return optionFunc(func(c *config) { c.logs = name })
}

// WithPrometheus gives the MeterProvider p's reader, always; the caller
// serves p.Handler() on its own mux. "prometheus" in
// OTEL_METRICS_EXPORTER then means this reader, never a second one.
// Without WithPrometheus, OTEL_METRICS_EXPORTER=prometheus is autoexport's:
// a server of its own on OTEL_EXPORTER_PROMETHEUS_HOST:PORT (localhost:9464).
func WithPrometheus(p *promexport.Exporter) Option {
	return optionFunc(func(c *config) { c.prometheus = p })
}

// WithSpanProcessor adds a span processor besides the exporters the
// environment chooses (a tail sampler, a test's span recorder).
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return optionFunc(func(c *config) {
		if sp != nil {
			c.processors = append(c.processors, sp)
		}
	})
}

// WithConsoleWriter is where the console exporters write (default:
// standard output).
func WithConsoleWriter(w io.Writer) Option {
	return optionFunc(func(c *config) {
		if w != nil {
			c.console = w
		}
	})
}

// WithoutGlobals leaves the process's OpenTelemetry globals alone: the
// tracer, meter and logger providers, the propagator and the error handler
// stay what they were, and only what is handed the Providers (a tracker
// through TrackerOptions, and through it every engine module) exports
// through them. For a process that runs several services, each with
// providers of its own, as tests and a demo of three nodes in one process
// do.
func WithoutGlobals() Option {
	return optionFunc(func(c *config) { c.noGlobals = true })
}
