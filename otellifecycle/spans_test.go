package otellifecycle_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func traceTracker(t *testing.T, opts ...otellifecycle.Option) (*otellifecycle.Tracker, *tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return newTracker(t, append([]otellifecycle.Option{otellifecycle.WithTracerProvider(tp)}, opts...)...), rec, tp
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestPhaseSpansDrawAWaterfallUnderTheEpisode(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	tr, rec, _ := traceTracker(t, otellifecycle.WithAttributes(node), otellifecycle.WithClock(stepClock(time.Second)))
	tr.ToJoining(ctx, 0)
	tr.ToJoining(ctx, 1)
	tr.ToReady(ctx, 3)

	ended := rec.Ended()
	want := []string{"cluster.lifecycle.starting", "cluster.lifecycle.joining", "cluster.lifecycle.joining", "cluster.lifecycle"}
	if got := names(ended); !slices.Equal(got, want) {
		t.Fatalf("ended spans %q, want %q", got, want)
	}
	episode := ended[3]
	if episode.Parent().IsValid() {
		t.Fatal("the episode is not a root span")
	}
	for i, phase := range ended[:3] {
		if phase.Parent().SpanID() != episode.SpanContext().SpanID() || phase.SpanContext().TraceID() != episode.SpanContext().TraceID() {
			t.Fatalf("phase %d is not a child of the episode", i)
		}
		// Each phase lasts from its transition to the next: 1s on the clock.
		if d := phase.EndTime().Sub(phase.StartTime()); d != time.Second {
			t.Fatalf("phase %d lasted %v", i, d)
		}
		if v := attrMap(phase.Attributes())["node.id"]; v.AsString() != "n1" {
			t.Fatalf("phase %d lacks node.id: %v", i, phase.Attributes())
		}
	}
	if a := attrMap(ended[2].Attributes())["cluster.lifecycle.attempt"]; a.AsInt64() != 1 {
		t.Fatalf("second joining span attempt = %v", a)
	}
	if !episode.StartTime().Equal(epoch) || !episode.EndTime().Equal(epoch.Add(3*time.Second)) {
		t.Fatalf("episode from %v to %v", episode.StartTime(), episode.EndTime())
	}
	attrs := attrMap(episode.Attributes())
	if attrs["cluster.lifecycle.outcome"].AsString() != "ready" || attrs["node.id"].AsString() != "n1" {
		t.Fatalf("episode attributes %v", episode.Attributes())
	}
	if episode.Status().Code == codes.Error {
		t.Fatal("a Ready episode has Error status")
	}

	events := episode.Events()
	if len(events) != 3 {
		t.Fatalf("episode has %d events, want 3", len(events))
	}
	for _, e := range events {
		if e.Name != "cluster.lifecycle.transition" {
			t.Fatalf("event %q", e.Name)
		}
	}
	last := attrMap(events[2].Attributes)
	wantLast := map[attribute.Key]attribute.Value{
		"cluster.lifecycle.from":   attribute.StringValue("joining"),
		"cluster.lifecycle.to":     attribute.StringValue("ready"),
		"cluster.lifecycle.detail": attribute.StringValue("ready (3 nodes)"),
		"cluster.lifecycle.seq":    attribute.Int64Value(3),
		"cluster.lifecycle.nodes":  attribute.Int64Value(3),
	}
	if len(last) != len(wantLast) {
		t.Fatalf("event attributes %v, want %v", last, wantLast)
	}
	for k, v := range wantLast {
		if last[k] != v {
			t.Fatalf("event %s = %v, want %v", k, last[k].String(), v.String())
		}
	}
	if a := attrMap(events[0].Attributes)["cluster.lifecycle.attempt"]; a.AsInt64() != 0 || a.Type() != attribute.INT64 {
		t.Fatalf("first event attempt = %v", a)
	}
	if !events[1].Time.Equal(epoch.Add(2 * time.Second)) {
		t.Fatalf("event time %v", events[1].Time)
	}
}

func TestFailedEndsTheEpisodeWithErrorAndTheNextLinksToIt(t *testing.T) {
	ctx := t.Context()
	tr, rec, _ := traceTracker(t)
	tr.ToJoining(ctx, 0)
	tr.ToFailed(ctx, "seeds unreachable")
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	tr.ToDraining(ctx)
	tr.ToStopping(ctx)

	var episodes []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "cluster.lifecycle" {
			episodes = append(episodes, s)
		}
	}
	if len(episodes) != 3 {
		t.Fatalf("%d episodes ended, want 3 (failed, ready, stopping): %q", len(episodes), names(rec.Ended()))
	}
	failed, ready, stopping := episodes[0], episodes[1], episodes[2]
	if failed.Status().Code != codes.Error || failed.Status().Description != "seeds unreachable" {
		t.Fatalf("failed episode status %+v", failed.Status())
	}
	if r := attrMap(failed.Events()[1].Attributes)["cluster.lifecycle.reason"]; r.AsString() != "seeds unreachable" {
		t.Fatalf("failure event reason %v", r)
	}
	for _, pair := range [][2]sdktrace.ReadOnlySpan{{failed, ready}, {ready, stopping}} {
		prev, next := pair[0], pair[1]
		if next.SpanContext().TraceID() == prev.SpanContext().TraceID() {
			t.Fatal("a new episode reused the previous trace")
		}
		links := next.Links()
		if len(links) != 1 || !links[0].SpanContext.Equal(prev.SpanContext()) {
			t.Fatalf("episode links %+v, want one to the previous episode", links)
		}
	}
	if got := names(rec.Ended()); !slices.Contains(got, "cluster.lifecycle.draining") {
		t.Fatalf("no draining phase span in %q", got)
	}
	if o := attrMap(stopping.Attributes())["cluster.lifecycle.outcome"]; o.AsString() != "stopping" {
		t.Fatalf("stopping episode outcome %v", o)
	}
}

// A transition made while no episode is open (a failure while serving)
// still lands on a span: an episode of its own, ended at once.
func TestATransitionOutsideAnEpisodeGetsItsOwn(t *testing.T) {
	ctx := t.Context()
	tr, rec, _ := traceTracker(t)
	tr.ToReady(ctx, 3)
	tr.ToFailed(ctx, "lost quorum")
	ended := rec.Ended()
	last := ended[len(ended)-1]
	if last.Name() != "cluster.lifecycle" || last.Status().Code != codes.Error || len(last.Events()) != 1 ||
		!last.StartTime().Equal(last.EndTime()) {
		t.Fatalf("last span %q status %v events %d", last.Name(), last.Status(), len(last.Events()))
	}
}

func TestTheEventAlsoLandsOnTheCallersSpan(t *testing.T) {
	ctx := t.Context()
	tr, rec, tp := traceTracker(t)
	callerCtx, caller := tp.Tracer("service").Start(ctx, "join cluster")
	tr.ToJoining(callerCtx, 0)
	tr.ToReady(callerCtx, 2)
	caller.End()
	var got sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "join cluster" {
			got = s
		}
	}
	if got == nil || len(got.Events()) != 2 {
		t.Fatalf("caller span events: %v", got)
	}
	if to := attrMap(got.Events()[1].Attributes)["cluster.lifecycle.to"]; to.AsString() != "ready" {
		t.Fatalf("caller event to = %v", to)
	}
}

func TestCloseEndsOpenSpans(t *testing.T) {
	ctx := t.Context()
	tr, rec, _ := traceTracker(t)
	tr.ToJoining(ctx, 0)
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("%d spans ended before Close", n)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if got := names(rec.Ended()); !slices.Equal(got, []string{"cluster.lifecycle.starting", "cluster.lifecycle.joining", "cluster.lifecycle"}) {
		t.Fatalf("after Close ended %q", got)
	}
	for _, s := range rec.Started() {
		if s.EndTime().IsZero() {
			t.Fatalf("span %q still open after Close", s.Name())
		}
	}
}

func TestContextWithPhaseParentsWorkUnderThePhase(t *testing.T) {
	ctx := t.Context()
	tr, rec, tp := traceTracker(t)
	tr.ToJoining(ctx, 0)
	_, work := tp.Tracer("service").Start(tr.ContextWithPhase(ctx), "POST /join")
	work.End()
	tr.ToReady(ctx, 2)
	var join, phase sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "POST /join":
			join = s
		case "cluster.lifecycle.joining":
			phase = s
		}
	}
	if join.Parent().SpanID() != phase.SpanContext().SpanID() {
		t.Fatal("work started from ContextWithPhase is not a child of the phase span")
	}
	// Between episodes there is nothing to parent under.
	if sc := trace.SpanContextFromContext(tr.ContextWithPhase(ctx)); sc.IsValid() {
		t.Fatal("ContextWithPhase while Ready returned a span context")
	}
}

func TestUnsampledEpisodesStartNoPhaseSpans(t *testing.T) {
	ctx := t.Context()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(ctx)
	tr := newTracker(t, otellifecycle.WithTracerProvider(tp))
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 1)
	if n := len(rec.Started()); n != 0 {
		t.Fatalf("%d spans recorded with a never-sample sampler", n)
	}
}
