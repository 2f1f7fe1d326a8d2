package lifecycleetcd

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Names of the Raft instruments (see the package documentation): the
// names every Raft engine module of this project uses, so that one
// dashboard serves them all.
const (
	metricLeader  = "cluster.lifecycle.raft.leader"
	metricChanges = "cluster.lifecycle.raft.leader.changes"
	metricServers = "cluster.lifecycle.raft.servers"
	suffrageKey   = "suffrage"
)

// registerMetrics registers the Raft instruments and their one callback,
// which reads the facts and, for the leader gauge, the server's leader
// (an atomic): never anything that waits.
func (o *Observer) registerMetrics() (metric.Registration, error) {
	mp := o.cfg.meterProvider
	if mp == nil {
		mp = o.t.MeterProvider()
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(otellifecycle.Version))
	leader, err1 := meter.Int64ObservableGauge(metricLeader, metric.WithUnit("{leader}"),
		metric.WithDescription("1 while this node is the Raft leader, else 0."))
	changes, err2 := meter.Int64ObservableCounter(metricChanges, metric.WithUnit("{change}"),
		metric.WithDescription("Leader changes this node has seen: a leader known that is not the one known before."))
	servers, err3 := meter.Int64ObservableUpDownCounter(metricServers, metric.WithUnit("{server}"),
		metric.WithDescription("Servers in this node's Raft configuration, by suffrage (voter, nonvoter)."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("registering the Raft instruments: %w", err)
	}

	// Attribute sets are built once, here, not in the callback.
	attrs := append(o.t.Attributes(), o.cfg.attrs...)
	base := metric.WithAttributeSet(attribute.NewSet(attrs...))
	voter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(attrs), attribute.String(suffrageKey, "voter"))...))
	nonvoter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(attrs), attribute.String(suffrageKey, "nonvoter"))...))
	self := o.e.Server.MemberID()

	reg, err := meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		o.mu.Lock()
		f := o.f
		o.mu.Unlock()
		isLeader := int64(0)
		if !f.ending && o.e.Server.Leader() == self {
			isLeader = 1
		}
		obs.ObserveInt64(leader, isLeader, base)
		obs.ObserveInt64(changes, f.changes, base)
		obs.ObserveInt64(servers, int64(f.voters), voter)
		obs.ObserveInt64(servers, int64(f.learners), nonvoter)
		return nil
	}, leader, changes, servers)
	if err != nil {
		return nil, fmt.Errorf("registering the Raft instruments: %w", err)
	}
	return reg, nil
}
