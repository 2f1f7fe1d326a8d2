package lifecycleetcd_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// wantRaftMetrics checks every Raft instrument of reader against the
// values given, with attrs on every point.
func wantRaftMetrics(t testing.TB, reader *sdkmetric.ManualReader, leader, changes, voters, nonvoters int64, attrs ...attribute.KeyValue) {
	t.Helper()
	got := raftMetrics(t, reader)
	set := attribute.NewSet(attrs...)
	with := func(kv attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(append([]attribute.KeyValue{}, attrs...), kv)...)
	}
	want := []metricdata.Metrics{{
		Name: "cluster.lifecycle.raft.leader", Unit: "{leader}",
		Description: "1 while this node is the Raft leader, else 0.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Value: leader}}},
	}, {
		Name: "cluster.lifecycle.raft.leader.changes", Unit: "{change}",
		Description: "Leader changes this node has seen: a leader known that is not the one known before.",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Value: changes}}},
	}, {
		Name: "cluster.lifecycle.raft.servers", Unit: "{server}",
		Description: "Servers in this node's Raft configuration, by suffrage (voter, nonvoter).",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: false,
			DataPoints: []metricdata.DataPoint[int64]{
				{Attributes: with(attribute.String("suffrage", "voter")), Value: voters},
				{Attributes: with(attribute.String("suffrage", "nonvoter")), Value: nonvoters},
			}},
	}}
	if len(got) != len(want) {
		t.Errorf("%d Raft instruments, want %d", len(got), len(want))
	}
	for _, w := range want {
		metricdatatest.AssertEqual(t, w, got[w.Name], metricdatatest.IgnoreTimestamp())
	}
}

// The Raft instruments go to the tracker's MeterProvider with the
// tracker's attributes and WithAttributes' after them: who leads, the
// leader changes each member saw, the membership by suffrage. A leader
// change is one more on every member. Close takes them away and leaves
// the phase.
func TestRaftInstrumentsOnTheTrackersProvider(t *testing.T) {
	unit := attribute.String("service.unit", "store")
	c := newCluster(t)
	ms := c.bootstrap(names(3), memberOptions{observer: []lifecycleetcd.Option{lifecycleetcd.WithAttributes(unit)}})
	waitAll(t, "Ready{3}", isReady(3), ms...)
	attrs := func(m *member) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("node.id", m.name), unit}
	}
	l := c.leader()
	check := func(l *member, changes int64) {
		t.Helper()
		for _, m := range ms {
			isLeader := int64(0)
			if m == l {
				isLeader = 1
			}
			c.eventually(m.name+" seeing the leader", func() bool {
				return point(t, m.reader, "cluster.lifecycle.raft.leader.changes") == changes &&
					point(t, m.reader, "cluster.lifecycle.raft.leader") == isLeader
			})
			wantRaftMetrics(t, m.reader, isLeader, changes, 3, 0, attrs(m)...)
		}
	}
	check(l, 1)

	to := c.others(l)[0]
	if err := l.e.Server.MoveLeader(t.Context(), uint64(l.id()), uint64(to.id())); err != nil {
		t.Fatal(err)
	}
	check(to, 2)

	for _, m := range ms {
		if err := m.obs.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.obs.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
		if got := raftMetrics(t, m.reader); len(got) != 0 {
			t.Errorf("%s: after Close, %d Raft instruments still reported", m.name, len(got))
		}
		m.wantGauge(t, otellifecycle.Ready) // Close leaves the tracker as it was
	}
}

// WithMeterProvider sends the Raft instruments elsewhere; the tracker's
// provider then has none of them.
func TestWithMeterProviderSendsTheInstrumentsElsewhere(t *testing.T) {
	elsewhere := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(elsewhere))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	c := newCluster(t)
	m := c.bootstrap(names(1), memberOptions{observer: []lifecycleetcd.Option{
		lifecycleetcd.WithMeterProvider(nil), // the default: the tracker's
		lifecycleetcd.WithMeterProvider(mp),  // the last wins
	}})[0]
	m.waitState(t, "Ready{1}", isReady(1))
	c.eventually("the leader gauge at 1", func() bool { return point(t, elsewhere, "cluster.lifecycle.raft.leader") == 1 })
	wantRaftMetrics(t, elsewhere, 1, 1, 1, 0, attribute.String("node.id", "m1"))
	if got := raftMetrics(t, m.reader); len(got) != 0 {
		t.Errorf("the tracker's provider has %d Raft instruments, want none", len(got))
	}
}
