package otellifecycle

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/global"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// signals are the OpenTelemetry outputs of a tracker: metrics, spans and
// log events. transition and close run in the writers' critical section.
type signals struct {
	metrics *metrics
	spans   *spans
	logs    logs
	now     func() time.Time
}

func newSignals(cfg *config, m *statemachine.Machine[State, Transition]) (*signals, error) {
	met, err := newMetrics(cfg, m)
	if err != nil {
		return nil, err
	}
	lp := cfg.loggerProvider
	if lp == nil {
		lp = global.GetLoggerProvider()
	}
	first := m.Load()
	return &signals{
		metrics: met,
		spans:   newSpans(cfg, first.State, first.Since),
		logs: logs{
			logger: lp.Logger(ScopeName, otellog.WithInstrumentationVersion(Version())),
			attrs:  cfg.attrs,
		},
		now: cfg.now,
	}, nil
}

func (s *signals) transition(ctx context.Context, tr Transition) {
	s.metrics.record(ctx, tr)
	logOn := s.logs.enabled(ctx)
	var event []attribute.KeyValue
	if s.spans.begin(ctx, tr) || logOn {
		event = eventAttributes(tr)
	}
	episode := s.spans.finish(ctx, tr, event)
	if logOn {
		s.logs.emit(ctx, tr, event, episode)
	}
}

func (s *signals) close() error {
	s.spans.close(s.now())
	return s.metrics.close()
}

// currentSpan is the span context of the open phase span (or episode).
func (s *signals) currentSpan() trace.SpanContext {
	if sc := s.spans.current.Load(); sc != nil {
		return *sc
	}
	return trace.SpanContext{}
}
