package lifecycleraft

import (
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/raftmetrics"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// registerMetrics registers the Raft instruments (see the package
// documentation) and their one callback on t's meter provider, or
// WithMeterProvider's, with t's attributes and WithAttributes' on every
// point. hashicorp/raft counts the leaders it sees elected and tells when
// a follower last heard from its leader.
func (o *Observer) registerMetrics(t *otellifecycle.Tracker) (metric.Registration, error) {
	return raftmetrics.Register(raftmetrics.Spec{
		Scope:              ScopeName,
		Tracker:            t,
		MeterProvider:      o.cfg.MeterProvider,
		Attributes:         o.cfg.Attributes,
		ChangesDescription: "Leaders this node has seen elected (each Raft LeaderObservation that names a leader).",
		ServersDescription: "Servers in this node's latest Raft configuration, by suffrage (voter, nonvoter).",
		LastContact:        true,
	}, o.metricFacts)
}

// metricFacts is what one collection reports. State and LastContact are
// read from Raft under its own short locks: a collection never waits on
// Raft's main loop.
func (o *Observer) metricFacts() raftmetrics.Facts {
	f := o.d.Facts()
	state := o.r.State()
	if f.state == raft.Shutdown {
		state = raft.Shutdown // see refresh
	}
	m := raftmetrics.Facts{Leader: state == raft.Leader, Changes: f.elected, Voters: f.voters, Nonvoters: f.nonvoters}
	switch last := o.r.LastContact(); {
	case state == raft.Leader:
		m.Contact = true
	case state != raft.Shutdown && !last.IsZero():
		m.SinceContact, m.Contact = time.Since(last), true
	}
	return m
}
