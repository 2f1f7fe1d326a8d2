package enginetest

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
)

// Names of the Raft instruments, as the tests expect them.
const (
	RaftLeader        = "cluster.lifecycle.raft.leader"
	RaftLeaderChanges = "cluster.lifecycle.raft.leader.changes"
	RaftLastContact   = "cluster.lifecycle.raft.last_contact"
	RaftServers       = "cluster.lifecycle.raft.servers"
)

// RaftInstruments is what one Raft engine module's
// cluster.lifecycle.raft.* instruments should be: its scope, and what its
// engine's leader.changes and servers mean. Its methods read them from a
// ManualReader and check them.
type RaftInstruments struct {
	Scope, Version     string // the meter's
	ChangesDescription string // leader.changes', as the engine counts them
	ServersDescription string // servers'
	LastContact        bool   // the engine reports last_contact too
}

// Collect collects reader's instruments of r's scope, by name, failing t
// when the scope's version is not r's.
func (r RaftInstruments) Collect(t testing.TB, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != r.Scope {
			continue
		}
		if sm.Scope.Version != r.Version {
			t.Fatalf("scope version %q, want %q", sm.Scope.Version, r.Version)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Point is the value of the first point of reader's instrument name (for
// servers, of suffrage, when given), or -1 when there is none.
func (r RaftInstruments) Point(t testing.TB, reader *sdkmetric.ManualReader, name string, suffrage ...string) int64 {
	t.Helper()
	var pts []metricdata.DataPoint[int64]
	switch d := r.Collect(t, reader)[name].Data.(type) {
	case metricdata.Gauge[int64]:
		pts = d.DataPoints
	case metricdata.Sum[int64]:
		pts = d.DataPoints
	}
	for _, p := range pts {
		if v, ok := p.Attributes.Value("suffrage"); len(suffrage) == 0 || (ok && v.AsString() == suffrage[0]) {
			return p.Value
		}
	}
	return -1
}

// Want collects reader's instruments and checks leader, leader.changes and
// servers against the values given, with attrs on every point (and the
// suffrage after them on servers'), and that there is no other but
// last_contact where the engine reports it; it returns the collection,
// for last_contact, whose value is a time.
func (r RaftInstruments) Want(t testing.TB, reader *sdkmetric.ManualReader, leader, changes, voters, nonvoters int64, attrs ...attribute.KeyValue) map[string]metricdata.Metrics {
	t.Helper()
	got := r.Collect(t, reader)
	set := attribute.NewSet(attrs...)
	with := func(kv attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(append([]attribute.KeyValue{}, attrs...), kv)...)
	}
	want := []metricdata.Metrics{{
		Name: RaftLeader, Unit: "{leader}",
		Description: "1 while this node is the Raft leader, else 0.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Value: leader}}},
	}, {
		Name: RaftLeaderChanges, Unit: "{change}",
		Description: r.ChangesDescription,
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Value: changes}}},
	}, {
		Name: RaftServers, Unit: "{server}",
		Description: r.ServersDescription,
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: false,
			DataPoints: []metricdata.DataPoint[int64]{
				{Attributes: with(attribute.String("suffrage", "voter")), Value: voters},
				{Attributes: with(attribute.String("suffrage", "nonvoter")), Value: nonvoters},
			}},
	}}
	for name := range got {
		switch name {
		case RaftLeader, RaftLeaderChanges, RaftServers:
		case RaftLastContact:
			if !r.LastContact {
				t.Errorf("%s reported: the engine does not tell it", name)
			}
		default:
			t.Errorf("%s reported, an instrument that is not the Raft engines'", name)
		}
	}
	for _, w := range want {
		metricdatatest.AssertEqual(t, w, got[w.Name], metricdatatest.IgnoreTimestamp())
	}
	return got
}
