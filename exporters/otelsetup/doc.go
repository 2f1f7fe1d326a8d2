// Package otelsetup builds the OpenTelemetry SDK providers (traces,
// metrics, logs) a service hands to its tracker, in one call, from the
// standard OTEL_* environment, and shuts them all down with one call.
//
//	prom, err := promexport.New()
//	...
//	p, err := otelsetup.Setup(ctx, otelsetup.WithServiceName("nodedb"), otelsetup.WithPrometheus(prom))
//	...
//	defer p.Shutdown(ctx)
//	mux.Handle("/metrics", prom.Handler())
//	tracker, err := otellifecycle.New(p.TrackerOptions()...)
//	...
//	defer tracker.Close() // runs first: flushes the tracker's final state
//
// (Example shows the whole wiring.) It honours:
//
//	OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER
//	    otlp, console or none, or a comma-separated list of them; for
//	    metrics also prometheus, the WithPrometheus reader. Any other name,
//	    alone, is go.opentelemetry.io/contrib/exporters/autoexport's: its
//	    Prometheus server on OTEL_EXPORTER_PROMETHEUS_HOST:PORT when
//	    WithPrometheus is not given, or an exporter registered with
//	    autoexport.Register*. Unset: the WithDefault*Exporter name (otlp,
//	    the specification's default, unless changed).
//	OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL
//	    http/protobuf (the default) or grpc.
//	OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT,
//	OTEL_EXPORTER_OTLP_HEADERS (and per signal), timeouts, TLS, compression
//	    read by the official OTLP exporters themselves. With no endpoint
//	    variable, the endpoint is the specification's http://localhost:4318
//	    (gRPC: http://localhost:4317), in plain text, not the TLS the Go
//	    exporters would otherwise use.
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
//	    on the resource, over WithServiceName, WithInstanceID and
//	    WithResourceAttributes; the resource also describes the host and
//	    the process (resource.WithService, WithHost and friends).
//	OTEL_BSP_*, OTEL_BLRP_*, OTEL_METRIC_EXPORT_INTERVAL
//	    read by the SDK's batch processors and periodic reader.
//	OTEL_PROPAGATORS
//	    the global propagator (contrib's autoprop): tracecontext, baggage,
//	    b3, b3multi, jaeger, xray, ottrace or none, or a list; default
//	    tracecontext,baggage.
//
// A value it does not recognize is reported through otel.Handle and
// ignored, never fatal: see Setup.
//
// Start-up never waits for a collector: exporters connect lazily and
// export in the background, so Setup returns at once when the endpoint is
// down, and telemetry is dropped, not queued without bound, while it is.
// Shutdown flushes what is buffered and returns when its context ends.
//
// # Globals
//
// Setup does what OpenTelemetry's own setup code does: it makes its
// providers the process's global ones and sets the global propagator, so
// every instrumentation that takes the globals (otelhttp, otelgrpc, a
// database driver's) exports through the same providers as the tracker.
// The tracker does not depend on it: TrackerOptions hands it the providers,
// and the engine modules take them from the tracker. WithoutGlobals leaves
// every global alone, for a process that runs several services, each with
// providers of its own.
//
// # Errors
//
// An exporter that cannot export reports it through otel.Handle, and a
// collector that is down fails every export: every few seconds, with the
// same text. Setup installs a global error handler that passes each
// distinct error on (to the handler in place before Setup; by default the
// standard logger) the first time, then at most once a minute with the
// number of times it came meanwhile; Shutdown reports the repeats still
// held back. A handler set with otel.SetErrorHandler after Setup gets
// every error. A service that runs without a collector on purpose says so
// instead: OTEL_TRACES_EXPORTER=none, OTEL_LOGS_EXPORTER=none, and
// OTEL_METRICS_EXPORTER=prometheus (with WithPrometheus, its reader alone;
// without it, autoexport's server on localhost:9464); nothing is then
// exported, so nothing fails, at Shutdown either.
package otelsetup
