package otellifecycle_test

import (
	"context"
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
