package lifecycleraft_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// instruments are this module's Raft instruments: hashicorp/raft counts
// the leaders it sees elected, reads its latest configuration and tells
// when a follower last heard from its leader.
var instruments = enginetest.RaftInstruments{
	Scope:              lifecycleraft.ScopeName,
	Version:            lifecycleraft.Version,
	ChangesDescription: "Leaders this node has seen elected (each Raft LeaderObservation that names a leader).",
	ServersDescription: "Servers in this node's latest Raft configuration, by suffrage (voter, nonvoter).",
	LastContact:        true,
}

// wantRaftMetrics checks every Raft instrument of reader but
// last_contact, whose value is a time, with attrs on every point; it
// returns last_contact's points.
func wantRaftMetrics(t testing.TB, reader *sdkmetric.ManualReader, leader, elected, voters, nonvoters int64, attrs ...attribute.KeyValue) []metricdata.DataPoint[float64] {
	t.Helper()
	got := instruments.Want(t, reader, leader, elected, voters, nonvoters, attrs...)
	lc, ok := got["cluster.lifecycle.raft.last_contact"]
	if !ok {
		return nil
	}
	if lc.Unit != "s" {
		t.Errorf("last_contact unit %q, want s", lc.Unit)
	}
	return lc.Data.(metricdata.Gauge[float64]).DataPoints
}

// The Raft instruments say who leads, how many leaders were seen, how long
// since the leader was heard and the configuration by suffrage, with the
// tracker's attributes and the WithAttributes ones; a nonvoter is Ready,
// counted as a nonvoter and not in Ready's Nodes; Close takes the
// instruments away.
func TestRaftInstrumentsAndNonvoter(t *testing.T) {
	shard := attribute.String("raft.group", "shard-7")
	opts := nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithAttributes(shard)}}
	c := newCluster(t, inmem)
	n1, n2 := c.add("n1", opts), c.add("n2", opts)
	attrs := func(n *node) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("node.id", string(n.id)), shard}
	}

	if pts := wantRaftMetrics(t, n1.Reader, 0, 0, 0, 0, attrs(n1)...); len(pts) != 0 {
		t.Errorf("last_contact %v before any contact, want no point", pts)
	}
	if err := n1.obs.Bootstrap(t.Context(), raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: n1.id, Address: n1.addr},
	}}); err != nil {
		t.Fatal(err)
	}
	n1.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	if err := n1.r.AddNonvoter(n2.id, n2.addr, 0, time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	n2.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	// A fresh node may hear from the leader before the configuration that
	// holds it arrives: Joining for that moment, as the mapping says.
	if got := n2.Phases(t); len(got) == 2 {
		n2.WantStates(t, "starting", "ready:1")
	} else {
		n2.WantStates(t, "starting", "joining:0", "ready:1")
	}
	n2.WantGauge(t, otellifecycle.Ready)
	c.eventually("n1 counting the nonvoter", func() bool {
		return instruments.Point(t, n1.Reader, "cluster.lifecycle.raft.servers", "nonvoter") == 1
	})

	pts := wantRaftMetrics(t, n1.Reader, 1, 1, 1, 1, attrs(n1)...)
	if len(pts) != 1 || pts[0].Value != 0 || pts[0].Attributes != attribute.NewSet(attrs(n1)...) {
		t.Errorf("leader's last_contact %+v, want one point at 0", pts)
	}
	pts = wantRaftMetrics(t, n2.Reader, 0, 1, 1, 1, attrs(n2)...)
	if len(pts) != 1 || pts[0].Value < 0 || pts[0].Value > leaderless.Seconds() {
		t.Errorf("follower's last_contact %+v, want one point in [0, %v]", pts, leaderless.Seconds())
	}

	for range 2 { // Close is idempotent
		if err := n1.obs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := instruments.Collect(t, n1.Reader); len(got) != 0 {
		t.Errorf("after Close: %d Raft instruments still reported", len(got))
	}
	n1.WantGauge(t, otellifecycle.Ready) // Close leaves the tracker as it was
}

// The Raft instruments go where the tracker's metrics go, with the
// tracker's attributes, without a word from the service and with no
// global MeterProvider: whatever wiring gives the tracker its provider
// and its node id gives the Raft series the same. WithMeterProvider sends
// them elsewhere, still with the tracker's attributes.
func TestRaftInstrumentsGoWhereTheTrackersMetricsGo(t *testing.T) {
	if mp, ok := otel.GetMeterProvider().(*sdkmetric.MeterProvider); ok {
		t.Fatalf("a global SDK MeterProvider (%p) is set: the test would not show what it means to", mp)
	}
	elsewhere := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(elsewhere))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c := newCluster(t, inmem)
	n1 := c.add("n1")
	n2 := c.add("n2", nodeOptions{observer: []lifecycleraft.Option{lifecycleraft.WithMeterProvider(mp)}})
	c.form(n1, n2)
	c.eventually("n2 counting two voters", func() bool {
		return instruments.Point(t, elsewhere, "cluster.lifecycle.raft.servers", "voter") == 2
	})
	c.eventually("n1 counting two voters", func() bool {
		return instruments.Point(t, n1.Reader, "cluster.lifecycle.raft.servers", "voter") == 2
	})

	n1Leads := int64(0)
	if n1.r.State() == raft.Leader {
		n1Leads = 1
	}
	wantRaftMetrics(t, n1.Reader, n1Leads, 1, 2, 0, attribute.String("node.id", "n1"))
	wantRaftMetrics(t, elsewhere, 1-n1Leads, 1, 2, 0, attribute.String("node.id", "n2"))
	if got := instruments.Collect(t, n2.Reader); len(got) != 0 {
		t.Errorf("n2's tracker's provider has %d Raft instruments, want none: WithMeterProvider sent them elsewhere", len(got))
	}
}

// Raft shut down after Leave, even not through Shutdown, is Stopping: the
// service asked to leave; without Leave it is Failed (see the fault tests).
func TestRaftShutDownAfterLeaveIsStopping(t *testing.T) {
	c := newCluster(t, inmem)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	c.form(n1, n2, n3)
	f := c.followers(c.leader())[0]
	if err := f.obs.Leave(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	f.kill()
	f.WaitState(t, "Stopping", func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Stopping })
	f.WantPhases(t, "starting", f.formedBy, "ready", "draining", "stopping")
	f.WantGauge(t, otellifecycle.Stopping)
}
