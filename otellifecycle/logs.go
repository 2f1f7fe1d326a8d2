package otellifecycle

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// logs emits the transition as an OpenTelemetry log event, in the trace
// context of its episode span, so that logs, traces and metrics correlate.
type logs struct {
	logger otellog.Logger
	attrs  []attribute.KeyValue // WithAttributes
}

var logEnabled = otellog.EnabledParameters{Severity: otellog.SeverityInfo, EventName: eventTransition}

func (l *logs) enabled(ctx context.Context) bool {
	return l.logger.Enabled(ctx, logEnabled)
}

func (l *logs) emit(ctx context.Context, tr *Transition, event []attribute.KeyValue, episode trace.SpanContext) {
	var r otellog.Record
	r.SetEventName(eventTransition)
	r.SetTimestamp(tr.At)
	r.SetObservedTimestamp(tr.At)
	r.SetSeverity(otellog.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue("cluster lifecycle transition"))
	r.AddAttributes(event...)
	r.AddAttributes(l.attrs...)
	if episode.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, episode)
	}
	l.logger.Emit(ctx, r)
}
