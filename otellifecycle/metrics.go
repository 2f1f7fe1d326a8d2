package otellifecycle

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// Metric names other than the state gauge's (see WithMetricName).
const (
	metricTransitions   = "cluster.lifecycle.transitions"
	metricPhaseDuration = "cluster.lifecycle.phase.duration"
	metricJoinAttempt   = "cluster.lifecycle.join.attempt"
	metricNodes         = "cluster.lifecycle.nodes"
)

// phaseDurationBuckets spans a fast restart (ms) to a join stuck for hours.
var phaseDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// metrics records the instruments of one tracker.
//
// The transitions counter is kept by the tracker: a transition adds 1 to
// its (from, to) cell, one atomic add, and every collection observes the
// cells as a monotonic cumulative sum, which exports exactly as a
// synchronous counter would (cluster_lifecycle_transitions_total in
// Prometheus) without costing each transition an SDK aggregation.
//
// Attribute sets are built once: the gauges' at New, a pair's or a
// phase's the first time it is seen (by the writer, before the count that
// publishes it), so the collection callback allocates nothing.
type metrics struct {
	m   *statemachine.Machine[State, Transition]
	reg metric.Registration

	state, attempt, nodes metric.Int64ObservableGauge
	transitions           metric.Int64ObservableCounter
	duration              metric.Float64Histogram

	base     []attribute.KeyValue
	stateKey string
	stateObs [numPhases][]metric.ObserveOption // base + state=<label>
	baseObs  []metric.ObserveOption            // base only

	counts    [numPhases][numPhases]atomic.Int64
	pairObs   [numPhases][numPhases]atomic.Pointer[[]metric.ObserveOption] // set before the first count
	phaseRecs [numPhases][]metric.RecordOption                             // writer only
}

func newMetrics(cfg *config, m *statemachine.Machine[State, Transition]) (*metrics, error) {
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()))
	x := &metrics{m: m, base: cfg.attrs, stateKey: cfg.stateKey}
	var err error
	fail := func(name string, e error) error {
		return fmt.Errorf("otellifecycle: registering %s: %w", name, e)
	}
	if x.state, err = meter.Int64ObservableGauge(cfg.metricName,
		metric.WithUnit("{state}"),
		metric.WithDescription("Cluster lifecycle phase: 1 for the current phase's label, 0 for every other label.")); err != nil {
		return nil, fail(cfg.metricName, err)
	}
	if x.attempt, err = meter.Int64ObservableGauge(metricJoinAttempt,
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Current cluster join attempt, counted from 0; observed only while joining.")); err != nil {
		return nil, fail(metricJoinAttempt, err)
	}
	if x.nodes, err = meter.Int64ObservableGauge(metricNodes,
		metric.WithUnit("{node}"),
		metric.WithDescription("Nodes in the cluster as this node sees it; observed only while ready.")); err != nil {
		return nil, fail(metricNodes, err)
	}
	if x.transitions, err = meter.Int64ObservableCounter(metricTransitions,
		metric.WithUnit("{transition}"),
		metric.WithDescription("Cluster lifecycle transitions, by the phase left (from) and the phase entered (to).")); err != nil {
		return nil, fail(metricTransitions, err)
	}
	if x.duration, err = meter.Float64Histogram(metricPhaseDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time spent in a cluster lifecycle phase, recorded when the phase is left."),
		metric.WithExplicitBucketBoundaries(phaseDurationBuckets...)); err != nil {
		return nil, fail(metricPhaseDuration, err)
	}

	x.baseObs = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(x.base...))}
	for i, p := range phases {
		x.stateObs[i] = []metric.ObserveOption{metric.WithAttributeSet(x.with(attribute.String(x.stateKey, string(p))))}
	}
	if x.reg, err = meter.RegisterCallback(x.observe, x.state, x.attempt, x.nodes, x.transitions); err != nil {
		return nil, fail("the state gauge callback", err)
	}
	return x, nil
}

// with returns the tracker's attributes plus extra, as a set.
func (x *metrics) with(extra ...attribute.KeyValue) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(x.base)+len(extra))
	return attribute.NewSet(append(append(kvs, x.base...), extra...)...)
}

// observe runs at every collection. It reports every label of the state
// gauge from one snapshot, so no collection can see zero or two phases at 1 (an
// unobserved label would vanish from the export, so all are observed every
// time). It allocates nothing.
func (x *metrics) observe(_ context.Context, o metric.Observer) error {
	s := x.m.Load().State
	cur := s.Phase.index()
	for i := range numPhases {
		var v int64
		if i == cur {
			v = 1
		}
		o.ObserveInt64(x.state, v, x.stateObs[i]...)
	}
	switch s.Phase {
	case Joining:
		o.ObserveInt64(x.attempt, int64(s.Attempt), x.baseObs...)
	case Ready:
		o.ObserveInt64(x.nodes, int64(s.Nodes), x.baseObs...)
	}
	for from := range x.counts {
		for to := range x.counts[from] {
			if n := x.counts[from][to].Load(); n != 0 {
				o.ObserveInt64(x.transitions, n, *x.pairObs[from][to].Load()...)
			}
		}
	}
	return nil
}

// record counts a transition and records the time spent in the phase it
// left. It runs in the writers' critical section.
func (x *metrics) record(ctx context.Context, tr *Transition) {
	from, to := tr.From.Phase.index(), tr.To.Phase.index()
	if x.pairObs[from][to].Load() == nil {
		opts := []metric.ObserveOption{metric.WithAttributeSet(x.with(
			attribute.String("from", string(tr.From.Phase)), attribute.String("to", string(tr.To.Phase))))}
		x.pairObs[from][to].Store(&opts)
	}
	x.counts[from][to].Add(1)
	if x.phaseRecs[from] == nil {
		x.phaseRecs[from] = []metric.RecordOption{metric.WithAttributeSet(x.with(attribute.String("phase", string(tr.From.Phase))))}
	}
	x.duration.Record(ctx, tr.InPhase.Seconds(), x.phaseRecs[from]...)
}

// close unregisters the callback, so the tracker's gauge and counter
// series are gone at the next collection.
func (x *metrics) close() error {
	return x.reg.Unregister()
}
