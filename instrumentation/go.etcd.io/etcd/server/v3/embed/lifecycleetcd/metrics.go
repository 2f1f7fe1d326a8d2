package lifecycleetcd

import (
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/raftmetrics"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// registerMetrics registers the Raft instruments (see the package
// documentation) and their one callback on t's meter provider, or
// WithMeterProvider's, with t's attributes and WithAttributes' on every
// point. The callback reads the facts and, for the leader gauge, the
// server's leader (an atomic): never anything that waits. etcd does not
// tell when a follower last heard from its leader.
func (o *Observer) registerMetrics(t *otellifecycle.Tracker) (metric.Registration, error) {
	return raftmetrics.Register(raftmetrics.Spec{
		Scope:              ScopeName,
		Tracker:            t,
		MeterProvider:      o.cfg.MeterProvider,
		Attributes:         o.cfg.Attributes,
		ChangesDescription: raftmetrics.ChangesSeen,
		ServersDescription: raftmetrics.ServersByConfiguration,
	}, o.metricFacts)
}

// metricFacts is what one collection reports.
func (o *Observer) metricFacts() raftmetrics.Facts {
	f := o.d.Facts()
	return raftmetrics.Facts{
		Leader:    !f.ending && o.e.Server.Leader() == o.self,
		Changes:   f.changes,
		Voters:    f.voters,
		Nonvoters: f.learners,
	}
}
