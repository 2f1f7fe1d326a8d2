package otelsetup

import (
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
)

// setGlobals makes p's providers the process's global ones, as
// OpenTelemetry's own setup code does, so that every instrumentation that
// takes the globals (otelhttp, otelgrpc, a database driver's) reaches the
// same exporters; and sets the global propagator from OTEL_PROPAGATORS
// (default tracecontext,baggage: W3C trace context and baggage), so that
// such instrumentation carries traces across processes.
func (p *Providers) setGlobals() {
	otel.SetTracerProvider(p.Tracer)
	otel.SetMeterProvider(p.Meter)
	otel.SetLoggerProvider(p.Logger)
	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())
}
