package raftmetrics_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/lifecyclekit/lifecycle/internal/raftmetrics"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// node is a tracker whose metrics go to a ManualReader of its own, with a
// node.id, closed when the test ends.
func node(t *testing.T) *enginetest.Node {
	t.Helper()
	n := &enginetest.Node{Name: "n1", Attrs: []attribute.KeyValue{attribute.String("node.id", "n1")}}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(t) })
	return n
}

// The instruments go to the tracker's provider with the tracker's
// attributes and the Spec's after them, and report what read returns at
// each collection; last_contact only where the engine tells it and only
// when there is a contact to tell; unregistered, they are gone.
func TestRegisterObservesWhatReadReturns(t *testing.T) {
	n := node(t)
	shard := attribute.String("raft.group", "7")
	var mu sync.Mutex
	facts := raftmetrics.Facts{Leader: true, Changes: 2, Voters: 3, Nonvoters: 1}
	reg, err := raftmetrics.Register(raftmetrics.Spec{
		Scope: "x", Tracker: n.Tracker, Attributes: []attribute.KeyValue{shard},
		ChangesDescription: "changes", ServersDescription: "servers", LastContact: true,
	}, func() raftmetrics.Facts {
		mu.Lock()
		defer mu.Unlock()
		return facts
	})
	if err != nil {
		t.Fatal(err)
	}
	instruments := enginetest.RaftInstruments{Scope: "x", Version: otellifecycle.Version,
		ChangesDescription: "changes", ServersDescription: "servers", LastContact: true}
	attrs := append(slices.Clone(n.Attrs), shard)
	got := instruments.Want(t, n.Reader, 1, 2, 3, 1, attrs...)
	if lc, ok := got[raftmetrics.LastContact]; ok && len(lc.Data.(metricdata.Gauge[float64]).DataPoints) != 0 {
		t.Errorf("last_contact without a contact: %+v", lc)
	}

	mu.Lock()
	facts = raftmetrics.Facts{Contact: true, SinceContact: 1500 * time.Millisecond}
	mu.Unlock()
	got = instruments.Want(t, n.Reader, 0, 0, 0, 0, attrs...)
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: raftmetrics.LastContact, Unit: "s", Description: "Seconds since this node last heard from the Raft leader; 0 on the leader.",
		Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Attributes: attribute.NewSet(attrs...), Value: 1.5}}},
	}, got[raftmetrics.LastContact], metricdatatest.IgnoreTimestamp())

	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	for name, m := range instruments.Collect(t, n.Reader) {
		t.Errorf("after Unregister: %s %+v", name, m.Data)
	}
}

// An engine that does not tell a follower's last contact registers no
// last_contact; a Spec's MeterProvider takes the points from the
// tracker's.
func TestRegisterWithoutLastContactElsewhere(t *testing.T) {
	n := node(t)
	elsewhere := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(elsewhere))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	reg, err := raftmetrics.Register(raftmetrics.Spec{
		Scope: "x", Tracker: n.Tracker, MeterProvider: mp,
		ChangesDescription: raftmetrics.ChangesSeen, ServersDescription: raftmetrics.ServersByConfiguration,
	}, func() raftmetrics.Facts { return raftmetrics.Facts{Voters: 1, Contact: true} })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()
	instruments := enginetest.RaftInstruments{Scope: "x", Version: otellifecycle.Version,
		ChangesDescription: "Leader changes this node has seen: a leader known that is not the one known before.",
		ServersDescription: "Servers in this node's Raft configuration, by suffrage (voter, nonvoter)."}
	if got := instruments.Collect(t, n.Reader); len(got) != 0 {
		t.Errorf("the tracker's provider has %d Raft instruments", len(got))
	}
	instruments.Want(t, elsewhere, 0, 0, 1, 0, n.Attrs...)
}
