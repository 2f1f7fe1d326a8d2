package lifecycleraft

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Names of the Raft instruments (see the package documentation).
const (
	metricLeader      = "cluster.lifecycle.raft.leader"
	metricElected     = "cluster.lifecycle.raft.leader.changes"
	metricLastContact = "cluster.lifecycle.raft.last_contact"
	metricServers     = "cluster.lifecycle.raft.servers"
	suffrageKey       = "suffrage"
)

// registerMetrics registers the Raft instruments and their one callback
// on the Observer's meter provider, with its attributes on every point.
func (o *Observer) registerMetrics() (metric.Registration, error) {
	meter := o.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	leader, err1 := meter.Int64ObservableGauge(metricLeader, metric.WithUnit("{leader}"),
		metric.WithDescription("1 while this node is the Raft leader, else 0."))
	elected, err2 := meter.Int64ObservableCounter(metricElected, metric.WithUnit("{change}"),
		metric.WithDescription("Leaders this node has seen elected (each Raft LeaderObservation that names a leader)."))
	contact, err3 := meter.Float64ObservableGauge(metricLastContact, metric.WithUnit("s"),
		metric.WithDescription("Seconds since this node last heard from the Raft leader; 0 on the leader."))
	servers, err4 := meter.Int64ObservableUpDownCounter(metricServers, metric.WithUnit("{server}"),
		metric.WithDescription("Servers in this node's latest Raft configuration, by suffrage (voter, nonvoter)."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}

	// Attribute sets are built once, here, not in the callback.
	base := metric.WithAttributeSet(attribute.NewSet(o.attrs...))
	voter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(o.attrs), attribute.String(suffrageKey, "voter"))...))
	nonvoter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(o.attrs), attribute.String(suffrageKey, "nonvoter"))...))

	reg, err := meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		o.mu.Lock()
		f := o.f
		o.mu.Unlock()
		// State and LastContact are read from Raft under its own short
		// locks: a collection never waits on Raft's main loop.
		state := o.r.State()
		if f.state == raft.Shutdown {
			state = raft.Shutdown // see refresh
		}
		isLeader := int64(0)
		if state == raft.Leader {
			isLeader = 1
		}
		obs.ObserveInt64(leader, isLeader, base)
		obs.ObserveInt64(elected, f.elected, base)
		obs.ObserveInt64(servers, int64(f.voters), voter)
		obs.ObserveInt64(servers, int64(f.nonvoters), nonvoter)
		switch last := o.r.LastContact(); {
		case state == raft.Leader:
			obs.ObserveFloat64(contact, 0, base)
		case state != raft.Shutdown && !last.IsZero():
			obs.ObserveFloat64(contact, time.Since(last).Seconds(), base)
		}
		return nil
	}, leader, elected, contact, servers)
	if err != nil {
		return nil, err
	}
	return reg, nil
}
