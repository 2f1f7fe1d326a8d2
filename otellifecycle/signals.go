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
	metrics metrics
	spans   *spans // nil when the TracerProvider is the API's no-op
	logs    *logs  // nil when the LoggerProvider is the API's no-op
	now     func() time.Time
}

func (s *signals) init(cfg *config, m *statemachine.Machine[State, Transition]) error {
	if err := s.metrics.init(cfg, m); err != nil {
		return err
	}
	s.now = cfg.now
	if !isNoop(cfg.tracerProvider) {
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

func (s *signals) transition(ctx context.Context, tr *Transition) {
	s.metrics.record(ctx, tr)
	logOn := s.logs != nil && s.logs.enabled(ctx)
	caller := trace.SpanFromContext(ctx)
	wantEvent := logOn || caller.IsRecording()
	if s.spans != nil {
		wantEvent = s.spans.begin(ctx, tr) || wantEvent
	}
	var event []attribute.KeyValue
	if wantEvent {
		event = eventAttributes(tr)
	}
	var episode trace.SpanContext
	if s.spans != nil {
		episode = s.spans.finish(tr, event)
	}
	if caller.IsRecording() && !caller.SpanContext().Equal(episode) {
		caller.AddEvent(eventTransition, trace.WithTimestamp(tr.At), trace.WithAttributes(event...))
	}
	if logOn {
		s.logs.emit(ctx, tr, event, episode)
	}
}

func (s *signals) close(last State) error {
	if s.spans != nil {
		s.spans.close(s.now())
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
