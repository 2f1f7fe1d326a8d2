package otellifecycle

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span and event names.
const (
	spanEpisode     = "cluster.lifecycle"
	spanPhasePrefix = "cluster.lifecycle."
	eventTransition = "cluster.lifecycle.transition"
)

// Attribute keys of the transition event (span event and log record) and
// of the spans.
const (
	keyFrom    = attribute.Key("cluster.lifecycle.from")
	keyTo      = attribute.Key("cluster.lifecycle.to")
	keyDetail  = attribute.Key("cluster.lifecycle.detail")
	keySeq     = attribute.Key("cluster.lifecycle.seq")
	keyAttempt = attribute.Key("cluster.lifecycle.attempt")
	keyNodes   = attribute.Key("cluster.lifecycle.nodes")
	keyReason  = attribute.Key("cluster.lifecycle.reason")
	keyOutcome = attribute.Key("cluster.lifecycle.outcome")
)

// endsEpisode reports whether entering p ends an episode: the cluster
// formed (Ready), failed (Failed) or the node is going away (Stopping).
func endsEpisode(p Phase) bool { return p == Ready || p == Failed || p == Stopping }

// spans turns transitions into a trace an operator can read as a
// waterfall. An episode span "cluster.lifecycle" covers the way to an
// outcome (Ready, Failed or Stopping), with one child span per phase on
// the way ("cluster.lifecycle.joining" …), each ended by the next
// transition. Every transition adds the event "cluster.lifecycle.transition"
// to its episode; a transition made while no episode is open (Ready →
// Failed, say) gets an episode of its own that ends at once. Each episode
// is a new trace that links to the previous episode.
//
// Everything but current is touched only in the writers' critical section.
type spans struct {
	tracer trace.Tracer
	attrs  []attribute.KeyValue // WithAttributes, on every span

	// Options that never change are boxed once, and the options of a
	// Start are gathered in scratch, so a transition allocates only what
	// the tracer itself needs.
	episodeOpts []trace.SpanStartOption
	scratch     []trace.SpanStartOption

	episode     trace.Span // nil when no episode is open
	recording   bool       // episode.IsRecording(), which cannot change while it is open
	episodeCtx  context.Context
	phase       trace.Span // nil when no phase span is open
	lastEpisode trace.SpanContext

	// current is the span context of the open phase span (or episode),
	// for ContextWithPhase; readers load it without a lock.
	current atomic.Pointer[trace.SpanContext]
}

func newSpans(cfg *config, initial State, since time.Time) *spans {
	s := &spans{
		tracer: cfg.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		attrs:  cfg.attrs,
		episodeOpts: []trace.SpanStartOption{
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(cfg.attrs...),
		},
	}
	s.startEpisode(context.Background(), since)
	s.startPhase(initial, since)
	return s
}

func (s *spans) startEpisode(ctx context.Context, at time.Time) {
	var links []trace.Link
	if s.lastEpisode.IsValid() {
		links = append(links, trace.Link{
			SpanContext: s.lastEpisode,
			Attributes:  []attribute.KeyValue{attribute.String("cluster.lifecycle.link", "previous_episode")},
		})
	}
	if caller := trace.SpanContextFromContext(ctx); caller.IsValid() {
		links = append(links, trace.Link{
			SpanContext: caller,
			Attributes:  []attribute.KeyValue{attribute.String("cluster.lifecycle.link", "caller")},
		})
	}
	opts := append(append(s.scratch[:0], s.episodeOpts...), trace.WithTimestamp(at))
	if len(links) > 0 {
		opts = append(opts, trace.WithLinks(links...))
	}
	s.episodeCtx, s.episode = s.tracer.Start(ctx, spanEpisode, opts...)
	s.recording = s.episode.IsRecording()
	s.scratch = opts[:0]
	s.setCurrent(s.episode)
}

func (s *spans) startPhase(st State, at time.Time) {
	if !s.recording {
		return // not sampled: its children would not be either
	}
	attrs := make([]attribute.KeyValue, 0, len(s.attrs)+1)
	attrs = append(attrs, s.attrs...)
	if st.Phase == Joining {
		attrs = append(attrs, keyAttempt.Int64(int64(st.Attempt)))
	}
	_, s.phase = s.tracer.Start(s.episodeCtx, spanPhasePrefix+st.Label(),
		trace.WithTimestamp(at),
		trace.WithAttributes(attrs...),
		trace.WithSpanKind(trace.SpanKindInternal))
	s.setCurrent(s.phase)
}

func (s *spans) setCurrent(span trace.Span) {
	sc := span.SpanContext()
	if !sc.IsValid() {
		s.current.Store(nil)
		return
	}
	p := new(trace.SpanContext)
	*p = sc
	s.current.Store(p)
}

// begin ends the open phase span and makes sure an episode is open for
// tr, and reports whether the episode records the transition event (so
// its attributes are built only when some span or log wants them).
func (s *spans) begin(ctx context.Context, tr *Transition) (wantEvent bool) {
	if s.phase != nil {
		s.phase.End(trace.WithTimestamp(tr.At))
		s.phase = nil
	}
	if s.episode == nil {
		s.startEpisode(ctx, tr.At)
	}
	return s.recording
}

// finish adds the event to the episode (unless withEvent is false), then
// ends the episode if tr reaches an outcome, or starts the next phase span.
// It returns the span context of tr's episode.
func (s *spans) finish(tr *Transition, event []attribute.KeyValue, withEvent bool) trace.SpanContext {
	ep := s.episode
	sc := ep.SpanContext()
	if s.recording && withEvent {
		ep.AddEvent(eventTransition, trace.WithTimestamp(tr.At), trace.WithAttributes(event...))
	}
	if endsEpisode(tr.To.Phase) {
		if s.recording {
			ep.SetAttributes(keyOutcome.String(tr.To.Label()))
			if tr.To.Phase == Failed {
				ep.SetStatus(codes.Error, tr.To.Reason)
			}
		}
		s.endEpisode(tr.At)
		return sc
	}
	s.startPhase(tr.To, tr.At)
	return sc
}

func (s *spans) endEpisode(at time.Time) {
	if s.recording {
		s.episode.End(trace.WithTimestamp(at))
	} else {
		s.episode.End()
	}
	s.lastEpisode = s.episode.SpanContext()
	s.episode, s.episodeCtx = nil, nil
	s.current.Store(nil)
}

// close ends whatever is open, now.
func (s *spans) close(now time.Time) {
	if s.phase != nil {
		s.phase.End(trace.WithTimestamp(now))
		s.phase = nil
	}
	if s.episode != nil {
		s.episode.SetAttributes(keyOutcome.String("closed"))
		s.endEpisode(now)
	}
}

// eventAttributes are the attributes of the transition event: from, to,
// detail, seq and the payload of To.
func eventAttributes(tr *Transition) []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, 4, 5)
	kvs[0] = keyFrom.String(tr.From.Label())
	kvs[1] = keyTo.String(tr.To.Label())
	kvs[2] = keyDetail.String(tr.Detail)
	kvs[3] = keySeq.Int64(int64(tr.Seq))
	switch tr.To.Phase {
	case Joining:
		kvs = append(kvs, keyAttempt.Int64(int64(tr.To.Attempt)))
	case Ready:
		kvs = append(kvs, keyNodes.Int(tr.To.Nodes))
	case Failed:
		kvs = append(kvs, keyReason.String(tr.To.Reason))
	}
	return kvs
}
