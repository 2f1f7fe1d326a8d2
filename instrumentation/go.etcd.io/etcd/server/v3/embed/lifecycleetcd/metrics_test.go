package lifecycleetcd_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// instruments are this module's Raft instruments: leader changes counted
// as etcd counts them, and no last_contact, which etcd does not tell.
var instruments = enginetest.RaftInstruments{
	Scope:              lifecycleetcd.ScopeName,
	Version:            otellifecycle.Version,
	ChangesDescription: "Leader changes this node has seen: a leader known that is not the one known before.",
	ServersDescription: "Servers in this node's Raft configuration, by suffrage (voter, nonvoter).",
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
	enginetest.WaitAll(t, "Ready{3}", enginetest.IsReady(3), ms...)
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
				return instruments.Point(t, m.Reader, "cluster.lifecycle.raft.leader.changes") == changes &&
					instruments.Point(t, m.Reader, "cluster.lifecycle.raft.leader") == isLeader
			})
			instruments.Want(t, m.Reader, isLeader, changes, 3, 0, attrs(m)...)
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
		if got := instruments.Collect(t, m.Reader); len(got) != 0 {
			t.Errorf("%s: after Close, %d Raft instruments still reported", m.name, len(got))
		}
		m.WantGauge(t, otellifecycle.Ready) // Close leaves the tracker as it was
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
	m.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	c.eventually("the leader gauge at 1", func() bool { return instruments.Point(t, elsewhere, "cluster.lifecycle.raft.leader") == 1 })
	instruments.Want(t, elsewhere, 1, 1, 1, 0, attribute.String("node.id", "m1"))
	if got := instruments.Collect(t, m.Reader); len(got) != 0 {
		t.Errorf("the tracker's provider has %d Raft instruments, want none", len(got))
	}
}
