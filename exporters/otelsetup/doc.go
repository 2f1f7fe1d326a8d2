// Package otelsetup builds the OpenTelemetry SDK providers (traces,
// metrics, logs) a service hands to its tracker, in one call, from the
// standard environment, and shuts them all down with one call.
//
//	p, err := otelsetup.Setup(ctx, otelsetup.WithServiceName("nodedb"))
//	if err != nil { ... }
//	tracker, err := otellifecycle.New(p.TrackerOptions()...)
//	...
//	tracker.ToStopping(ctx) // ends the last episode span
//	p.Shutdown(shutdownCtx) // flushes everything, with the final state
//	tracker.Close()
//
// Shut the providers down before closing the tracker: a closed tracker
// unregisters its metric callbacks, so a collection after Close no longer
// sees its state.
// It honours:
//
//	OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER
//	    otlp, console or none; prometheus for metrics. A comma-separated
//	    list sends a signal to each. Unset: the WithDefaultExporters value
//	    (the specification's default, otlp, unless changed).
//	OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL
//	    grpc or http/protobuf (the default).
//	OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT,
//	OTEL_EXPORTER_OTLP_HEADERS (and per signal), timeouts, TLS, compression
//	    read by the official OTLP exporters themselves.
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
//	    on the resource, over WithServiceName, WithInstanceID and
//	    WithAttributes; the resource also describes the host.
//	OTEL_BSP_*, OTEL_BLRP_*, OTEL_METRIC_EXPORT_INTERVAL
//	    read by the SDK's batch processors and periodic reader.
//
// The exporters are the official ones; this package only chooses them.
// It does what go.opentelemetry.io/contrib/exporters/autoexport does for
// the choice, and adds what that package does not: comma-separated lists
// of exporters (the specification allows them; autoexport reads one
// name), and "prometheus" served by a handler the caller mounts on its own
// mux (autoexport starts a second HTTP server on port 9464).
//
// Start-up never waits for a collector: exporters connect lazily and
// export in the background, so Setup returns at once when the endpoint is
// down, and telemetry is dropped, not queued without bound, while it is.
// Shutdown flushes what is buffered and returns when its context ends.
package otelsetup
