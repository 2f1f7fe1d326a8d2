package otellifecycle

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// signals are the OpenTelemetry outputs of a tracker: metrics, spans and
// log events. transition and close run in the writers' critical section.
type signals struct {
	metrics    metrics
	spans      *spans // nil when the TracerProvider is the API's no-op, or for a member of a Group without member spans
	logs       *logs  // nil when the LoggerProvider is the API's no-op
	spanEvents bool   // false WithoutSpanEvents
}

func (s *signals) init(cfg *config, m *statemachine.Machine[State, Transition]) error {
	if err := s.metrics.init(cfg, m); err != nil {
		return err
	}
	s.spanEvents = !cfg.noSpanEvents
	if !isNoop(cfg.tracerProvider) && (cfg.group == nil || cfg.group.traces()) {
		first := m.Load()
		s.spans = newSpans(cfg, first.State, first.Since)
	}
	lp := cfg.loggerProvider
	if lp == nil {
		lp = otel.GetLoggerProvider()
	}
	if !isNoop(lp) {
		s.logs = &logs{
			logger: lp.Logger(ScopeName, otellog.WithInstrumentationVersion(Version)),
			attrs:  cfg.attrs,
		}
	}
	return nil
}

// isNoop reports whether p is one of the API's no-op providers, for which
// the tracker skips building spans and records altogether. (The global
// providers are not: one may be set after New, and the tracker follows.)
func isNoop(p any) bool {
	switch p.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider, lognoop.LoggerProvider, *lognoop.LoggerProvider:
		return true
	}
	return false
}

// transition records tr in every signal. The event (its attributes built
// only when some destination wants them) goes to the episode span, to the
// recording span in ctx (unless that is the episode) and to the log; the
// span events are left out WithoutSpanEvents.
func (s *signals) transition(ctx context.Context, tr *Transition) {
	s.metrics.record(ctx, tr)
	logOn := s.logs != nil && s.logs.enabled(ctx)
	caller := trace.SpanFromContext(ctx)
	callerEvent := s.spanEvents && caller.IsRecording()
	wantEvent := logOn || callerEvent
	if s.spans != nil {
		recording := s.spans.begin(ctx, tr)
		wantEvent = wantEvent || recording && s.spanEvents
	}
	var event []attribute.KeyValue
	if wantEvent {
		event = eventAttributes(tr)
	}
	var episode trace.SpanContext
	if s.spans != nil {
		episode = s.spans.finish(tr, event, s.spanEvents)
	}
	if callerEvent && !caller.SpanContext().Equal(episode) {
		caller.AddEvent(eventTransition, trace.WithTimestamp(tr.At), trace.WithAttributes(event...))
	}
	if logOn {
		s.logs.emit(ctx, tr, event, episode)
	}
}

// close ends the open spans at now and stops the metrics; last is the
// final state.
func (s *signals) close(last State, now func() time.Time) error {
	if s.spans != nil {
		s.spans.close(now())
	}
	return s.metrics.close(last)
}

// currentSpan is the span context of the open phase span (or episode).
func (s *signals) currentSpan() trace.SpanContext {
	if s.spans == nil {
		return trace.SpanContext{}
	}
	if sc := s.spans.current.Load(); sc != nil {
		return *sc
	}
	return trace.SpanContext{}
}
