package otellifecycle

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Group lets many trackers share one metric registration: a database node
// may track one lifecycle per shard, per vshard or per replica group, and
// N trackers then cost one callback that walks N snapshots, not N
// callbacks. Trackers join with WithGroup and leave with Close.
//
// A Group also keeps the aggregate instrument cluster.lifecycle.count
// (Int64ObservableUpDownCounter, the state attribute, unit {tracker}): how
// many of its trackers are in each phase, every label observed at every
// collection. It is kept incrementally on transitions, joins and leaves,
// so its collection costs the same for 10 trackers or 1,000,000. (A
// collection racing a transition may see that tracker in neither or both
// phases for that one collection; the counts never drift.)
//
// For large groups, WithoutTrackerSeries turns the per-tracker series off
// (their cardinality is the number of trackers times the per-tracker
// series): the group then reports only the aggregate, plus the phase
// entries and durations (and, WithDetailedMetrics, the transitions) with
// the group's attributes. Its members keep no spans either: a million
// vshards each holding an open episode span is nobody's intent, and
// WithMemberSpans turns them back on. Such a member made WithHistory(0)
// is the smallest tracker there is (its size, and a million of them, are
// measured in BENCHMARKS.md, "A tracker per vshard").
//
// The Group's options shape the metrics of all its members (see
// SharedOption for which options fit where).
type Group struct {
	ins         *instruments
	mp          metric.MeterProvider
	memberSpans bool // WithMemberSpans
	count       metric.Int64ObservableUpDownCounter
	countObs    [numPhases][]metric.ObserveOption
	counts      [numPhases]atomic.Int64
	attrs       []attribute.KeyValue
	perTracker  bool
	aggregate   *series // group-level entries and durations (and transitions, detailed), without per-tracker series
	reg         metric.Registration

	mu      sync.RWMutex
	n       int       // members
	members []*series // the members' series, when the group keeps them
	chunk   []series  // where the next members' series are allocated
	free    []*series // series of members that left, for the next to join
	closed  bool
}

// WithGroup makes the tracker a member of g: its metrics are reported by
// g's one callback instead of a registration of its own.
func WithGroup(g *Group) Option {
	return optionFunc(func(c config) config {
		if g == nil {
			return c.fail("WithGroup: group is nil")
		}
		c.group = g
		return c
	})
}

// WithoutTrackerSeries makes a Group report only its aggregates, and its
// members keep no spans unless WithMemberSpans says otherwise.
func WithoutTrackerSeries() GroupOption {
	return groupOptionFunc(func(c config) config {
		c.noTrackerSeries = true
		return c
	})
}

// WithMemberSpans makes the members of a WithoutTrackerSeries group trace
// their lifecycles (episode and phase spans, span events), as standalone
// trackers and members of other groups do. Each member then holds its
// open spans, a few hundred bytes with an SDK TracerProvider.
func WithMemberSpans() GroupOption {
	return groupOptionFunc(func(c config) config {
		c.memberSpans = true
		return c
	})
}

// NewGroup returns an empty Group shaped by opts. It fails only for
// invalid option values (the error names the option) or when an instrument
// cannot be registered.
func NewGroup(opts ...GroupOption) (*Group, error) {
	cfg := groupConfig(opts)
	cfg = cfg.checkStateKey(cfg.stateKey)
	if len(cfg.errs) > 0 {
		return nil, errors.Join(cfg.errs...)
	}
	if cfg.meterProvider == nil {
		cfg.meterProvider = otel.GetMeterProvider()
	}
	ins, err := newInstruments(&cfg)
	if err != nil {
		return nil, err
	}
	g := &Group{ins: ins, mp: cfg.meterProvider, attrs: cfg.attrs, perTracker: !cfg.noTrackerSeries, memberSpans: cfg.memberSpans}
	if g.count, err = ins.meter.Int64ObservableUpDownCounter(metricCount,
		metric.WithUnit("{tracker}"),
		metric.WithDescription("Trackers of the group in each cluster lifecycle phase.")); err != nil {
		return nil, registerError(metricCount, err)
	}
	agg := newSeries(ins, nil, g.attrs)
	for i, p := range phases {
		g.countObs[i] = []metric.ObserveOption{metric.WithAttributeSet(agg.with(attribute.String(ins.stateKey, string(p))))}
	}
	observed := ins.observables(g.count)
	if !g.perTracker {
		g.aggregate = agg
	}
	if g.reg, err = ins.meter.RegisterCallback(g.observe, observed...); err != nil {
		return nil, registerError("the group callback", err)
	}
	return g, nil
}

// observe reports the aggregate, then every member's series.
func (g *Group) observe(_ context.Context, o metric.Observer) error {
	for i := range numPhases {
		o.ObserveInt64(g.count, g.counts[i].Load(), g.countObs[i]...)
	}
	if g.aggregate != nil {
		g.aggregate.observe(o)
		return nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, s := range g.members {
		s.observe(o)
	}
	return nil
}

// ErrGroupClosed is returned by New for a tracker made WithGroup of a
// Group that is closed.
var ErrGroupClosed = errors.New("otellifecycle: WithGroup: the group is closed")

// join adds a tracker in state st, with attrs of its own, and returns its
// series (nil when the group keeps none), or ErrGroupClosed.
func (g *Group) join(st State, attrs []attribute.KeyValue) (*series, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrGroupClosed
	}
	g.counts[st.Phase.index()].Add(1)
	g.n++
	if !g.perTracker {
		return nil, nil
	}
	s := g.alloc()
	s.init(g.ins, &st, append(append([]attribute.KeyValue(nil), g.attrs...), attrs...))
	s.slot = len(g.members)
	g.members = append(g.members, s)
	return s, nil
}

// maxChunk is how many series a Group allocates at once, at most.
const maxChunk = 64

// alloc returns a zero series: one a member left, or the next of a chunk
// allocated for the next members, so that the callback's walk over
// g.members goes through memory in order. Chunks grow with the group, up
// to maxChunk series. Call it under g.mu.
func (g *Group) alloc() *series {
	if n := len(g.free); n > 0 {
		s := g.free[n-1]
		g.free[n-1] = nil
		g.free = g.free[:n-1]
		*s = series{}
		return s
	}
	if len(g.chunk) == cap(g.chunk) {
		g.chunk = make([]series, 0, min(max(len(g.members), 1), maxChunk))
	}
	g.chunk = g.chunk[:len(g.chunk)+1]
	return &g.chunk[len(g.chunk)-1]
}

// transition moves a tracker between phases in the aggregate. It runs in
// that tracker's writers' critical section.
func (g *Group) transition(ctx context.Context, tr *Transition, stint time.Duration) {
	g.counts[tr.To.Phase.index()].Add(1)
	g.counts[tr.From.Phase.index()].Add(-1)
	if g.aggregate != nil {
		g.aggregate.record(ctx, tr, stint)
	}
}

// leave removes a tracker whose last state was last, and whose series (nil
// when the group keeps none) is s. It runs in the tracker's Close, after
// which the tracker never touches s again, so s can serve the next member.
func (g *Group) leave(s *series, last State) {
	g.counts[last.Phase.index()].Add(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if s == nil {
		return
	}
	end := len(g.members) - 1
	moved := g.members[end]
	g.members[s.slot], moved.slot = moved, s.slot
	g.members[end] = nil
	g.members = g.members[:end]
	g.free = append(g.free, s)
}

// Len is the number of trackers in the group.
func (g *Group) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.n
}

// traces reports whether a member of g keeps spans.
func (g *Group) traces() bool { return g.perTracker || g.memberSpans }

// Close makes the group's MeterProvider export (ForceFlush, when it has
// it, for DefaultCloseTimeout at most), so the last export carries the
// final states whether the group or the provider is shut down first; then
// it unregisters the group's callback: its series are gone at the next
// collection. Close the trackers first; a tracker made WithGroup of a
// closed Group fails with ErrGroupClosed.
func (g *Group) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()
	flushMetrics(g.mp, time.Now().Add(DefaultCloseTimeout))
	return g.reg.Unregister()
}
