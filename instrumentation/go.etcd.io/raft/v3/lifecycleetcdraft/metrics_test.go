package lifecycleetcdraft_test

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// raftMetrics collects the Raft instruments of reader, checking their
// scope's name and version.
func raftMetrics(t testing.TB, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != lifecycleetcdraft.ScopeName {
			continue
		}
		if sm.Scope.Version != otellifecycle.Version {
			t.Fatalf("scope version %q, want %q", sm.Scope.Version, otellifecycle.Version)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// point is the value of the first point of reader's Raft instrument
// name, or -1 when there is none.
func point(t testing.TB, reader *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	switch d := raftMetrics(t, reader)[name].Data.(type) {
	case metricdata.Gauge[int64]:
		return d.DataPoints[0].Value
	case metricdata.Sum[int64]:
		return d.DataPoints[0].Value
	}
	return -1
}

// serversPoint is n's cluster.lifecycle.raft.servers for one suffrage.
func serversPoint(t testing.TB, n *node, suffrage string) int64 {
	t.Helper()
	m, ok := raftMetrics(t, n.reader)["cluster.lifecycle.raft.servers"]
	if !ok {
		t.Fatalf("%x: no cluster.lifecycle.raft.servers", n.id)
	}
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := p.Attributes.Value("suffrage"); v.AsString() == suffrage {
			return p.Value
		}
	}
	t.Fatalf("%x: no servers point for suffrage %q", n.id, suffrage)
	return 0
}

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
		t.Errorf("%d Raft instruments, want %d: %v", len(got), len(want), got)
	}
	for _, w := range want {
		metricdatatest.AssertEqual(t, w, got[w.Name], metricdatatest.IgnoreTimestamp())
	}
}

// The Raft instruments go to the tracker's MeterProvider with the
// tracker's attributes and WithAttributes' after them: who leads, how many
// leader changes each node saw (one per leader, as etcd counts them), the
// configuration by suffrage. Close takes them away and leaves the phase.
func TestRaftInstrumentsOnTheTrackersProvider(t *testing.T) {
	shard := attribute.String("raft.group", "shard-7")
	c := newCluster(t)
	nodes := c.bootstrap(ids(3), nodeOptions{observer: []lifecycleetcdraft.Option{lifecycleetcdraft.WithAttributes(shard)}})
	waitAll(t, "Ready{3}", isReady(3), nodes...)
	attrs := func(n *node) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("node.id", strconv.FormatUint(n.id, 10)), shard}
	}

	l := c.leader()
	for _, n := range nodes {
		isLeader := int64(0)
		if n == l {
			isLeader = 1
		}
		c.eventually("the leader seen", func() bool {
			return point(t, n.reader, "cluster.lifecycle.raft.leader.changes") == 1 &&
				point(t, n.reader, "cluster.lifecycle.raft.leader") == isLeader
		})
		wantRaftMetrics(t, n.reader, isLeader, 1, 3, 0, attrs(n)...)
	}

	// A leadership transfer is one more leader change on every node.
	to := c.followers(l)[0]
	l.rn.TransferLeadership(t.Context(), l.id, to.id)
	for _, n := range nodes {
		n.waitLeaderOtherThan(t, l.id)
	}
	for _, n := range nodes {
		isLeader := int64(0)
		if n == to {
			isLeader = 1
		}
		c.eventually("the new leader seen", func() bool {
			return point(t, n.reader, "cluster.lifecycle.raft.leader.changes") == 2 &&
				point(t, n.reader, "cluster.lifecycle.raft.leader") == isLeader
		})
		wantRaftMetrics(t, n.reader, isLeader, 2, 3, 0, attrs(n)...)
	}

	for _, n := range nodes {
		if err := n.obs.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.obs.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
		if got := raftMetrics(t, n.reader); len(got) != 0 {
			t.Errorf("%x: after Close, %d Raft instruments still reported", n.id, len(got))
		}
		n.wantGauge(t, otellifecycle.Ready) // Close leaves the tracker as it was
	}
}

// WithMeterProvider sends the Raft instruments elsewhere; the tracker's
// provider then has none of them.
func TestWithMeterProviderSendsTheInstrumentsElsewhere(t *testing.T) {
	elsewhere := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(elsewhere))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	c := newCluster(t)
	n := c.bootstrap(ids(1), nodeOptions{observer: []lifecycleetcdraft.Option{
		lifecycleetcdraft.WithMeterProvider(nil), // the default: the tracker's
		lifecycleetcdraft.WithMeterProvider(mp),  // the last wins
	}})[0]
	n.waitState(t, "Ready{1}", isReady(1))
	c.eventually("the gauge at 1", func() bool {
		return point(t, elsewhere, "cluster.lifecycle.raft.leader") == 1
	})
	wantRaftMetrics(t, elsewhere, 1, 1, 1, 0, attribute.String("node.id", "1"))
	if got := raftMetrics(t, n.reader); len(got) != 0 {
		t.Errorf("the tracker's provider has %d Raft instruments, want none", len(got))
	}
}
