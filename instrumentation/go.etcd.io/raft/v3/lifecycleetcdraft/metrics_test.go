package lifecycleetcdraft_test

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// instruments are this module's Raft instruments: leader changes counted
// as etcd counts them, and no last_contact, which etcd Raft does not tell.
var instruments = enginetest.RaftInstruments{
	Scope:              lifecycleetcdraft.ScopeName,
	Version:            otellifecycle.Version,
	ChangesDescription: "Leader changes this node has seen: a leader known that is not the one known before.",
	ServersDescription: "Servers in this node's Raft configuration, by suffrage (voter, nonvoter).",
}

// The Raft instruments go to the tracker's MeterProvider with the
// tracker's attributes and WithAttributes' after them: who leads, how many
// leader changes each node saw (one per leader, as etcd counts them), the
// configuration by suffrage. Close takes them away and leaves the phase.
func TestRaftInstrumentsOnTheTrackersProvider(t *testing.T) {
	shard := attribute.String("raft.group", "shard-7")
	c := newCluster(t)
	nodes := c.bootstrap(ids(3), nodeOptions{observer: []lifecycleetcdraft.Option{lifecycleetcdraft.WithAttributes(shard)}})
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), nodes...)
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
			return instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes") == 1 &&
				instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader") == isLeader
		})
		instruments.Want(t, n.Reader, isLeader, 1, 3, 0, attrs(n)...)
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
			return instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader.changes") == 2 &&
				instruments.Point(t, n.Reader, "cluster.lifecycle.raft.leader") == isLeader
		})
		instruments.Want(t, n.Reader, isLeader, 2, 3, 0, attrs(n)...)
	}

	for _, n := range nodes {
		if err := n.obs.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.obs.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
		if got := instruments.Collect(t, n.Reader); len(got) != 0 {
			t.Errorf("%x: after Close, %d Raft instruments still reported", n.id, len(got))
		}
		n.WantGauge(t, otellifecycle.Ready) // Close leaves the tracker as it was
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
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	c.eventually("the gauge at 1", func() bool {
		return instruments.Point(t, elsewhere, "cluster.lifecycle.raft.leader") == 1
	})
	instruments.Want(t, elsewhere, 1, 1, 1, 0, attribute.String("node.id", "1"))
	if got := instruments.Collect(t, n.Reader); len(got) != 0 {
		t.Errorf("the tracker's provider has %d Raft instruments, want none", len(got))
	}
}
