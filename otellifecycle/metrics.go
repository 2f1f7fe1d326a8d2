package otellifecycle

import (
	"context"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// Metric names other than the state gauge's (see WithMetricName).
const (
	metricTransitions   = "cluster.lifecycle.transitions"
	metricPhaseEntries  = "cluster.lifecycle.phase.entries"
	metricPhaseDuration = "cluster.lifecycle.phase.duration"
	metricJoinAttempt   = "cluster.lifecycle.join.attempt"
	metricNodes         = "cluster.lifecycle.nodes"
	metricCount         = "cluster.lifecycle.count"
)

// phaseDurationBuckets spans a fast restart (ms) to a join stuck for hours.
var phaseDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// instruments are the tracker's instruments on one meter, shared by every
// tracker of a Group.
type instruments struct {
	meter                 metric.Meter
	state, attempt, nodes metric.Int64ObservableGauge
	transitions, entries  metric.Int64ObservableCounter
	duration              metric.Float64Histogram
	stateKey              string
}

func newInstruments(cfg *config) (*instruments, error) {
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	x := &instruments{meter: meter, stateKey: cfg.stateKey}
	var err error
	if x.state, err = meter.Int64ObservableGauge(cfg.metricName,
		metric.WithUnit("{state}"),
		metric.WithDescription("Cluster lifecycle phase: 1 for the current phase's label, 0 for every other label.")); err != nil {
		return nil, registerError(cfg.metricName, err)
	}
	if x.attempt, err = meter.Int64ObservableGauge(metricJoinAttempt,
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Current cluster join attempt, counted from 0; observed only while joining.")); err != nil {
		return nil, registerError(metricJoinAttempt, err)
	}
	if x.nodes, err = meter.Int64ObservableGauge(metricNodes,
		metric.WithUnit("{node}"),
		metric.WithDescription("Nodes in the cluster as this node sees it; observed only while ready.")); err != nil {
		return nil, registerError(metricNodes, err)
	}
	if x.transitions, err = meter.Int64ObservableCounter(metricTransitions,
		metric.WithUnit("{transition}"),
		metric.WithDescription("Cluster lifecycle transitions, by the phase left (from) and the phase entered (to).")); err != nil {
		return nil, registerError(metricTransitions, err)
	}
	if x.entries, err = meter.Int64ObservableCounter(metricPhaseEntries,
		metric.WithUnit("{entry}"),
		metric.WithDescription("Times the cluster lifecycle entered each phase; every phase is observed from the tracker's creation, at 0 until entered.")); err != nil {
		return nil, registerError(metricPhaseEntries, err)
	}
	if x.duration, err = meter.Float64Histogram(metricPhaseDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time spent in a cluster lifecycle phase, recorded when the phase is left."),
		metric.WithExplicitBucketBoundaries(phaseDurationBuckets...)); err != nil {
		return nil, registerError(metricPhaseDuration, err)
	}
	return x, nil
}

func registerError(name string, err error) error {
	return fmt.Errorf("otellifecycle: registering %s: %w", name, err)
}

// series is one set of attributes' share of the instruments: a tracker's
// (its one-hot gauge, payload gauges, transitions and durations), or a
// Group's aggregate transitions and durations (with m nil).
//
// The transitions counter is kept here: a transition adds 1 to its (from,
// to) cell, one atomic add, and every collection observes the cells as a
// monotonic cumulative sum, which exports exactly as a synchronous counter
// would (cluster_lifecycle_transitions_total in Prometheus) without costing
// each transition an SDK aggregation.
//
// The entries counter (cluster.lifecycle.phase.entries) counts the
// transitions into each phase, and observes all eight phases from the
// series' creation, at 0 until entered. A counter series that first
// appears at 1 has no increase() in Prometheus, so the transitions
// counter, whose (from, to) pairs appear when first seen, cannot show a
// node's first failure; the entries can, with eight series where every
// pair present from the start would take 64. The initial Starting is not
// an entry: the entries add up to the transitions.
//
// Attribute sets are built once: the gauges' and the phases' at creation
// (one set per phase serves the entries and the durations), a pair's the
// first time it is seen, before the count that publishes it, so observe
// allocates nothing.
//
// The fields a collection reads come first, and a Group allocates its
// members' series side by side (see Group.alloc), so that its callback
// walks contiguous memory rather than one tracker's heap after another.
type series struct {
	// state is a tracker's state as one word (see pack), written by its
	// writer after each transition; a collection reads nothing else of the
	// tracker, and reads it once, so the one-hot gauge is consistent.
	state   atomic.Uint64
	tracker bool // false for a Group's aggregate, which has no state gauge
	slot    int  // position in Group.members, under Group.mu

	// One option each, passed as a one-element slice of the array, so the
	// options cost no slice of their own.
	stateObs [numPhases]metric.ObserveOption // base + state=<label>
	baseObs  []metric.ObserveOption          // base only
	entryObs [numPhases]metric.ObserveOption // base + phase=<label>
	entries  [numPhases]atomic.Int64
	seen     atomic.Uint64 // bit from*numPhases+to: the pair has a count (and its options)
	ins      *instruments

	phaseRec [numPhases]metric.RecordOption // the same sets as entryObs
	base     []attribute.KeyValue
	counts   [numPhases][numPhases]atomic.Int64
	pairObs  [numPhases][numPhases]atomic.Pointer[[]metric.ObserveOption]
}

// newSeries returns a tracker's series, in state st, or (with st nil) a
// Group's aggregate.
func newSeries(ins *instruments, st *State, base []attribute.KeyValue) *series {
	s := new(series)
	s.init(ins, st, base)
	return s
}

// init sets up a zero series as newSeries describes.
func (s *series) init(ins *instruments, st *State, base []attribute.KeyValue) {
	s.ins, s.base = ins, base
	for i, p := range phases {
		opt := metric.WithAttributeSet(s.with(attribute.String("phase", string(p))))
		s.entryObs[i], s.phaseRec[i] = opt, opt
	}
	if st != nil {
		s.tracker = true
		s.state.Store(pack(*st))
		s.baseObs = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(base...))}
		for i, p := range phases {
			s.stateObs[i] = metric.WithAttributeSet(s.with(attribute.String(ins.stateKey, string(p))))
		}
	}
}

// maxPayload is the largest payload pack keeps.
const maxPayload = 1<<56 - 1

// pack returns s as one word: the phase's index in the top byte, the
// payload (Joining's Attempt, Ready's Nodes, up to maxPayload) below.
func pack(s State) uint64 {
	var payload uint64
	switch s.Phase {
	case Joining:
		payload = uint64(s.Attempt)
	case Ready:
		payload = min(uint64(s.Nodes), maxPayload)
	}
	return uint64(s.Phase.index())<<56 | payload
}

// with returns the series' attributes plus extra, as a set.
func (s *series) with(extra ...attribute.KeyValue) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(s.base)+len(extra))
	return attribute.NewSet(append(append(kvs, s.base...), extra...)...)
}

// observe reports the series. For a tracker, every label of the state
// gauge is observed from one read of the state word, so no collection can
// see zero or two phases at 1 (an unobserved label would vanish from the
// export, so all are observed every time). It allocates nothing.
func (s *series) observe(o metric.Observer) {
	if s.tracker {
		w := s.state.Load()
		cur, payload := int(w>>56), int64(w&maxPayload)
		for i := range numPhases {
			var v int64
			if i == cur {
				v = 1
			}
			o.ObserveInt64(s.ins.state, v, s.stateObs[i:i+1]...)
		}
		switch phases[cur] {
		case Joining:
			o.ObserveInt64(s.ins.attempt, payload, s.baseObs...)
		case Ready:
			o.ObserveInt64(s.ins.nodes, payload, s.baseObs...)
		}
	}
	for i := range numPhases {
		o.ObserveInt64(s.ins.entries, s.entries[i].Load(), s.entryObs[i:i+1]...)
	}
	// Only the pairs seen: a scan of all 64 cells would touch eight cache
	// lines per tracker, which dominates a collection of many trackers.
	for seen := s.seen.Load(); seen != 0; seen &= seen - 1 {
		i := bits.TrailingZeros64(seen)
		from, to := i/numPhases, i%numPhases
		o.ObserveInt64(s.ins.transitions, s.counts[from][to].Load(), *s.pairObs[from][to].Load()...)
	}
}

// record counts a transition and records the time spent in the phase it
// left. A tracker's series is recorded by its writer only; a Group's by
// many, so a pair's lazily built options are published atomically (two
// writers may both build them; either is right).
func (s *series) record(ctx context.Context, tr *Transition) {
	if s.tracker {
		s.state.Store(pack(tr.To))
	}
	from, to := tr.From.Phase.index(), tr.To.Phase.index()
	if s.pairObs[from][to].Load() == nil {
		opts := []metric.ObserveOption{metric.WithAttributeSet(s.with(
			attribute.String("from", string(tr.From.Phase)), attribute.String("to", string(tr.To.Phase))))}
		s.pairObs[from][to].CompareAndSwap(nil, &opts)
	}
	s.counts[from][to].Add(1)
	s.entries[to].Add(1)
	if bit := uint64(1) << (from*numPhases + to); s.seen.Load()&bit == 0 {
		s.seen.Or(bit) // after the options and the count it publishes
	}
	s.ins.duration.Record(ctx, tr.InPhase.Seconds(), s.phaseRec[from:from+1]...)
}

// metrics is how one tracker reports: through its own registration, or as
// a member of a Group.
type metrics struct {
	series *series     // nil in a Group that keeps no per-tracker series
	own    *registered // standalone only
	group  *Group      // member only
}

// registered is a standalone tracker's own registration, and the provider
// Close flushes.
type registered struct {
	reg metric.Registration
	mp  metric.MeterProvider
}

func (x *metrics) init(cfg *config, m *statemachine.Machine[State, Transition]) error {
	if g := cfg.group; g != nil {
		x.group = g
		x.series = g.join(m.Load().State, cfg.attrs)
		return nil
	}
	ins, err := newInstruments(cfg)
	if err != nil {
		return err
	}
	x.series = newSeries(ins, &m.Load().State, cfg.attrs)
	x.own = &registered{mp: cfg.meterProvider}
	if x.own.reg, err = ins.meter.RegisterCallback(x.observe, ins.state, ins.attempt, ins.nodes, ins.transitions, ins.entries); err != nil {
		return registerError("the metrics callback", err)
	}
	return nil
}

// flush makes a standalone tracker's MeterProvider export before Close
// removes its series (see flushMetrics). A Group's member leaves that to
// the Group's Close.
func (x *metrics) flush(deadline time.Time) {
	if x.own != nil {
		flushMetrics(x.own.mp, deadline)
	}
}

func (x *metrics) observe(_ context.Context, o metric.Observer) error {
	x.series.observe(o)
	return nil
}

// record runs in the tracker's writers' critical section.
func (x *metrics) record(ctx context.Context, tr *Transition) {
	if x.series != nil {
		x.series.record(ctx, tr)
	}
	if x.group != nil {
		x.group.transition(ctx, tr)
	}
}

// close unregisters the tracker's callback or leaves its Group, so its
// series are gone at the next collection. last is the final state.
func (x *metrics) close(last State) error {
	if x.group != nil {
		x.group.leave(x.series, last)
		return nil
	}
	return x.own.reg.Unregister()
}
