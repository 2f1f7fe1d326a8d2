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

// phaseDurationBuckets fit the time scales of a lifecycle, a fast join
// (100 ms) to a stuck one (10 min), in 8 buckets: with the phases timed
// by default, 22 series per tracker in Prometheus, enough for a p90 of the
// time to join (see BENCHMARKS.md, "Series per node").
var phaseDurationBuckets = []float64{0.1, 0.25, 1, 2.5, 10, 30, 120, 600}

// detailedDurationBuckets are WithDetailedMetrics' finer scale, a fast
// restart (5 ms) to a join stuck for an hour.
var detailedDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// timedByDefault are the phases whose time the duration histogram records
// without WithDetailedMetrics: how long a join takes, and how long a
// failure lasts, are the two durations operators ask about.
var timedByDefault = func() (timed [numPhases]bool) {
	timed[Joining.index()], timed[Failed.index()] = true, true
	return timed
}()

// instruments are the tracker's instruments on one meter, shared by every
// tracker of a Group.
type instruments struct {
	meter          metric.Meter
	state          metric.Int64Observable // the one-hot gauge, or the status UpDownCounter
	attempt, nodes metric.Int64ObservableGauge
	entries        metric.Int64ObservableCounter
	transitions    metric.Int64ObservableCounter // nil without WithDetailedMetrics
	duration       metric.Float64Histogram
	timed          [numPhases]bool // the phases whose time duration records
	stateKey       string
}

func newInstruments(cfg *config) (*instruments, error) {
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	x := &instruments{meter: meter, stateKey: cfg.stateKey, timed: timedByDefault}
	var err error
	if cfg.status {
		x.state, err = meter.Int64ObservableUpDownCounter(cfg.metricName,
			metric.WithUnit("1"),
			metric.WithDescription("The cluster lifecycle's current status: 1 for the current state, 0 for every other state."))
	} else {
		x.state, err = meter.Int64ObservableGauge(cfg.metricName,
			metric.WithUnit("{state}"),
			metric.WithDescription("Cluster lifecycle phase: 1 for the current phase's label, 0 for every other label."))
	}
	if err != nil {
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
	if x.entries, err = meter.Int64ObservableCounter(metricPhaseEntries,
		metric.WithUnit("{entry}"),
		metric.WithDescription("Times the cluster lifecycle entered each phase; every phase is observed from the tracker's creation, at 0 until entered.")); err != nil {
		return nil, registerError(metricPhaseEntries, err)
	}
	buckets := phaseDurationBuckets
	if cfg.detailed {
		buckets = detailedDurationBuckets
		for i := range x.timed {
			x.timed[i] = true
		}
		if x.transitions, err = meter.Int64ObservableCounter(metricTransitions,
			metric.WithUnit("{transition}"),
			metric.WithDescription("Cluster lifecycle transitions, by the phase left (from) and the phase entered (to).")); err != nil {
			return nil, registerError(metricTransitions, err)
		}
	}
	if x.duration, err = meter.Float64Histogram(metricPhaseDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time spent in a cluster lifecycle phase, from entering it until leaving it for another phase."),
		metric.WithExplicitBucketBoundaries(buckets...)); err != nil {
		return nil, registerError(metricPhaseDuration, err)
	}
	return x, nil
}

// observables are the instruments a callback reports.
func (x *instruments) observables(more ...metric.Observable) []metric.Observable {
	obs := append(more, x.state, x.attempt, x.nodes, x.entries)
	if x.transitions != nil {
		obs = append(obs, x.transitions)
	}
	return obs
}

func registerError(name string, err error) error {
	return fmt.Errorf("otellifecycle: registering %s: %w", name, err)
}

// series is one set of attributes' share of the instruments: a tracker's
// (its state gauge, payload gauges, entries, durations and, with
// WithDetailedMetrics, transitions), or a Group's aggregate entries,
// durations and transitions (with tracker false).
//
// The entries counter (cluster.lifecycle.phase.entries) counts the
// transitions into each phase, and observes all eight phases from the
// series' creation, at 0 until entered. A counter series that first
// appears at 1 has no increase() in Prometheus, so a counter whose series
// appear when first seen cannot show a node's first failure; the entries
// can, with eight series. The initial Starting is not an entry: the
// entries add up to the transitions. Counts are kept here, one atomic add
// per transition, and observed at each collection as a monotonic
// cumulative sum, which exports exactly as a synchronous counter would
// without costing each transition an SDK aggregation.
//
// Attribute sets are built once: the state's and the phases' at creation
// (one set per phase serves the entries and the durations), a transition
// pair's the first time it is seen, before the count that publishes it,
// so observe allocates nothing.
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
	phaseObs [numPhases]metric.ObserveOption // base + <state key>=<label>: the state's and the entries'
	baseObs  []metric.ObserveOption          // base only
	entries  [numPhases]atomic.Int64
	pairs    *pairs // nil without WithDetailedMetrics
	ins      *instruments

	phaseRec [numPhases]metric.RecordOption // the same sets as phaseObs
	base     []attribute.KeyValue
}

// pairs count transitions by (from, to): up to 64 series per tracker,
// kept only WithDetailedMetrics.
type pairs struct {
	seen   atomic.Uint64 // bit from*numPhases+to: the pair has a count (and its options)
	counts [numPhases][numPhases]atomic.Int64
	obs    [numPhases][numPhases]atomic.Pointer[[]metric.ObserveOption]
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
		opt := metric.WithAttributeSet(s.with(attribute.String(ins.stateKey, string(p))))
		s.phaseObs[i], s.phaseRec[i] = opt, opt
	}
	if ins.transitions != nil {
		s.pairs = new(pairs)
	}
	if st != nil {
		s.tracker = true
		s.state.Store(pack(*st))
		s.baseObs = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(base...))}
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
			o.ObserveInt64(s.ins.state, v, s.phaseObs[i:i+1]...)
		}
		switch phases[cur] {
		case Joining:
			o.ObserveInt64(s.ins.attempt, payload, s.baseObs...)
		case Ready:
			o.ObserveInt64(s.ins.nodes, payload, s.baseObs...)
		}
	}
	for i := range numPhases {
		o.ObserveInt64(s.ins.entries, s.entries[i].Load(), s.phaseObs[i:i+1]...)
	}
	if p := s.pairs; p != nil {
		// Only the pairs seen: a scan of all 64 cells would touch eight
		// cache lines per tracker, which dominates a collection of many.
		for seen := p.seen.Load(); seen != 0; seen &= seen - 1 {
			i := bits.TrailingZeros64(seen)
			from, to := i/numPhases, i%numPhases
			o.ObserveInt64(s.ins.transitions, p.counts[from][to].Load(), *p.obs[from][to].Load()...)
		}
	}
}

// record counts a transition and, when tr leaves a timed phase for another
// phase, records stint, the time spent in it. A tracker's series is
// recorded by its writer only; a Group's by many, so a pair's lazily built
// options are published atomically (two writers may both build them;
// either is right).
func (s *series) record(ctx context.Context, tr *Transition, stint time.Duration) {
	if s.tracker {
		s.state.Store(pack(tr.To))
	}
	from, to := tr.From.Phase.index(), tr.To.Phase.index()
	s.entries[to].Add(1)
	if p := s.pairs; p != nil {
		if p.obs[from][to].Load() == nil {
			opts := []metric.ObserveOption{metric.WithAttributeSet(s.with(
				attribute.String("from", string(tr.From.Phase)), attribute.String("to", string(tr.To.Phase))))}
			p.obs[from][to].CompareAndSwap(nil, &opts)
		}
		p.counts[from][to].Add(1)
		if bit := uint64(1) << (from*numPhases + to); p.seen.Load()&bit == 0 {
			p.seen.Or(bit) // after the options and the count it publishes
		}
	}
	if from != to && s.ins.timed[from] {
		s.ins.duration.Record(ctx, stint.Seconds(), s.phaseRec[from:from+1]...)
	}
}

// metrics is how one tracker reports: through its own registration, or as
// a member of a Group.
type metrics struct {
	series *series     // nil in a Group that keeps no per-tracker series
	own    *registered // standalone only
	group  *Group      // member only

	// stint is how long the current phase has lasted before its current
	// state: a transition within a phase (Joining{0} → Joining{1}, Ready{3}
	// → Ready{4}) does not leave it, so the duration histogram times a
	// join with its retries as one stint. Writer only.
	stint time.Duration
}

// registered is a standalone tracker's own registration, and the provider
// Close flushes.
type registered struct {
	reg metric.Registration
	mp  metric.MeterProvider
}

func (x *metrics) init(cfg *config, m *statemachine.Machine[State, Transition]) error {
	if g := cfg.group; g != nil {
		s, err := g.join(m.Load().State, cfg.attrs)
		if err != nil {
			return err
		}
		x.group, x.series = g, s
		return nil
	}
	ins, err := newInstruments(cfg)
	if err != nil {
		return err
	}
	x.series = newSeries(ins, &m.Load().State, cfg.attrs)
	x.own = &registered{mp: cfg.meterProvider}
	if x.own.reg, err = ins.meter.RegisterCallback(x.observe, ins.observables()...); err != nil {
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
	stint := x.stint + tr.InPhase
	if tr.From.Phase == tr.To.Phase {
		x.stint = stint
	} else {
		x.stint = 0
	}
	if x.series != nil {
		x.series.record(ctx, tr, stint)
	}
	if x.group != nil {
		x.group.transition(ctx, tr, stint)
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
