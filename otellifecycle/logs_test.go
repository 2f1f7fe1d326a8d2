package otellifecycle_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// memExporter is an sdk/log Exporter that keeps what it is given.
type memExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (e *memExporter) Export(_ context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range rs {
		e.records = append(e.records, r.Clone())
	}
	return nil
}
func (e *memExporter) Shutdown(context.Context) error   { return nil }
func (e *memExporter) ForceFlush(context.Context) error { return nil }

func (e *memExporter) all() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdklog.Record(nil), e.records...)
}

func TestLogEventCarriesTheEpisodesTraceContext(t *testing.T) {
	ctx := t.Context()
	exp := &memExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	defer lp.Shutdown(ctx)
	tr, rec, _ := traceTracker(t, otellifecycle.WithLoggerProvider(lp), otellifecycle.WithAttributes(attribute.String("node.id", "n1")))
	tr.ToJoining(ctx, 4)
	tr.ToFailed(ctx, "no quorum")

	logs := exp.all()
	if len(logs) != 2 {
		t.Fatalf("%d log records, want 2", len(logs))
	}
	var episode = rec.Ended()[len(rec.Ended())-1]
	if episode.Name() != "cluster.lifecycle" {
		t.Fatalf("last ended span %q", episode.Name())
	}
	for i, r := range logs {
		if r.EventName() != "cluster.lifecycle.transition" || r.Severity() != otellog.SeverityInfo || r.SeverityText() != "INFO" {
			t.Fatalf("record %d: event %q severity %v %q", i, r.EventName(), r.Severity(), r.SeverityText())
		}
		if r.Body().AsString() != "cluster lifecycle transition" {
			t.Fatalf("record %d body %v", i, r.Body())
		}
		if r.TraceID() != episode.SpanContext().TraceID() || r.SpanID() != episode.SpanContext().SpanID() {
			t.Fatalf("record %d is not in the episode's trace context", i)
		}
		if s := r.InstrumentationScope(); s.Name != otellifecycle.ScopeName || s.Version != otellifecycle.Version {
			t.Fatalf("scope %+v", s)
		}
	}
	got := map[string]attribute.Value{}
	logs[1].WalkAttributes(func(kv attribute.KeyValue) bool { got[string(kv.Key)] = kv.Value; return true })
	want := map[string]attribute.Value{
		"cluster.lifecycle.from":   attribute.StringValue("joining"),
		"cluster.lifecycle.to":     attribute.StringValue("failed"),
		"cluster.lifecycle.detail": attribute.StringValue("failed: no quorum"),
		"cluster.lifecycle.seq":    attribute.Int64Value(2),
		"cluster.lifecycle.reason": attribute.StringValue("no quorum"),
		"node.id":                  attribute.StringValue("n1"),
	}
	if len(got) != len(want) {
		t.Fatalf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("attribute %s = %v, want %v", k, got[k].String(), v.String())
		}
	}
}

// Where events go through the Logs API, a bridge that also turns log
// events into span events would show every transition twice: with
// WithoutSpanEvents the log record is the one event, on no span (the
// episode's or the caller's), while the episode and phase spans stay.
func TestWithoutSpanEventsATransitionIsOneEventInSpansAndLogs(t *testing.T) {
	ctx := t.Context()
	for _, without := range []bool{false, true} {
		exp := &memExporter{}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
		opts := []otellifecycle.Option{otellifecycle.WithLoggerProvider(lp)}
		if without {
			opts = append(opts, otellifecycle.WithoutSpanEvents())
		}
		tr, rec, tp := traceTracker(t, opts...)
		callerCtx, caller := tp.Tracer("service").Start(ctx, "join cluster")
		tr.ToJoining(callerCtx, 0)
		tr.ToJoining(callerCtx, 1)
		tr.ToReady(callerCtx, 3)
		caller.End()
		tr.ToFailed(ctx, "disk")
		tr.ToStopping(ctx)
		_ = tr.Close()
		_ = lp.Shutdown(ctx)

		events := 0
		for _, s := range rec.Ended() {
			for _, e := range s.Events() {
				if e.Name == "cluster.lifecycle.transition" {
					events++
				}
			}
		}
		transitions := int(tr.Stats().Transitions)
		wantSpanEvents := transitions + 3 // the three made in the caller's span land there too
		if without {
			wantSpanEvents = 0
		}
		if events != wantSpanEvents || len(exp.all()) != transitions {
			t.Fatalf("WithoutSpanEvents %v: %d span events and %d log records for %d transitions, want %d and %d",
				without, events, len(exp.all()), transitions, wantSpanEvents, transitions)
		}
		want := []string{
			"cluster.lifecycle.starting", "cluster.lifecycle.joining", "cluster.lifecycle.joining", "cluster.lifecycle", // to Ready
			"join cluster",
			"cluster.lifecycle", // Ready → Failed, an episode of its own
			"cluster.lifecycle", // Failed → Stopping
		}
		if got := names(rec.Ended()); !slices.Equal(got, want) {
			t.Fatalf("WithoutSpanEvents %v: spans %v, want %v", without, got, want)
		}
	}
}
