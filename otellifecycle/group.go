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
// (Int64ObservableUpDownCounter, attribute state, unit {tracker}): how many
// of its trackers are in each phase, every label observed at every
// collection. It is kept incrementally on transitions, joins and leaves,
// so its collection costs the same for 10 trackers or 1,000,000. (A
// collection racing a transition may see that tracker in neither or both
// phases for that one collection; the counts never drift.)
//
// For large groups, WithoutTrackerSeries turns the per-tracker series off
// (their cardinality is the number of trackers times eight): the group then
// reports only the aggregate, plus the transitions and phase-entries
// counters and the phase-duration histogram with the group's attributes.
// A member of such a group made WithHistory(0) costs under 400 bytes of
// heap, so a process can track a million vshards in under 400 MiB, and
// the group's collection takes the same few microseconds for any number
// of members (BENCHMARKS.md, "A tracker per vshard").
//
// The Group's options (GroupOption) shape the metrics of all its members:
// WithMeterProvider, WithMetricName and WithStateAttributeKey given to
// NewGroup apply to every member, and the same options given to a member
// have no effect on its metrics. WithAttributes of the Group (a node id)
// are on every point, and a member's own WithAttributes (a shard id) are
// added to its series.
type Group struct {
	ins        *instruments
	mp         metric.MeterProvider
	count      metric.Int64ObservableUpDownCounter
	countObs   [numPhases][]metric.ObserveOption
	counts     [numPhases]atomic.Int64
	attrs      []attribute.KeyValue
	perTracker bool
	aggregate  *series // group-level transitions and durations, without per-tracker series
	reg        metric.Registration

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

// WithoutTrackerSeries makes a Group report only its aggregates. It is a
// GroupOption only: a Tracker has no such choice.
func WithoutTrackerSeries() GroupOption {
	return groupOptionFunc(func(c config) config {
		c.noTrackerSeries = true
		return c
	})
}

// NewGroup returns an empty Group shaped by opts: WithMeterProvider,
// WithMetricName, WithStateAttributeKey, WithAttributes and
// WithoutTrackerSeries are GroupOptions. A tracker's option is not, so
// NewGroup(WithSinks(s)) does not compile. NewGroup fails only for invalid
// option values (the error names the option) or when an instrument cannot
// be registered.
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
	g := &Group{ins: ins, mp: cfg.meterProvider, attrs: cfg.attrs, perTracker: !cfg.noTrackerSeries}
	if g.count, err = ins.meter.Int64ObservableUpDownCounter(metricCount,
		metric.WithUnit("{tracker}"),
		metric.WithDescription("Trackers of the group in each cluster lifecycle phase.")); err != nil {
		return nil, registerError(metricCount, err)
	}
	agg := newSeries(ins, nil, g.attrs)
	for i, p := range phases {
		g.countObs[i] = []metric.ObserveOption{metric.WithAttributeSet(agg.with(attribute.String(ins.stateKey, string(p))))}
	}
	observed := []metric.Observable{g.count, ins.state, ins.attempt, ins.nodes, ins.transitions, ins.entries}
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

// join adds a tracker in state st, with attrs of its own, and returns its
// series (nil when the group keeps none).
func (g *Group) join(st State, attrs []attribute.KeyValue) *series {
	g.counts[st.Phase.index()].Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	if !g.perTracker {
		return nil
	}
	s := g.alloc()
	s.init(g.ins, &st, append(append([]attribute.KeyValue(nil), g.attrs...), attrs...))
	s.slot = len(g.members)
	g.members = append(g.members, s)
	return s
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
func (g *Group) transition(ctx context.Context, tr *Transition) {
	g.counts[tr.To.Phase.index()].Add(1)
	g.counts[tr.From.Phase.index()].Add(-1)
	if g.aggregate != nil {
		g.aggregate.record(ctx, tr)
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

// Close makes the group's MeterProvider export (ForceFlush, when it has
// it, for DefaultCloseTimeout at most), so the last export carries the
// final states whether the group or the provider is shut down first; then
// it unregisters the group's callback: its series are gone at the next
// collection. Close the trackers first.
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
