// Package raftmetrics is the one place that defines the
// cluster.lifecycle.raft.* instruments: their names, kinds, units and
// descriptions, how they are registered and how one collection observes
// them. Every Raft engine module of this repository registers them
// through Register, so that one dashboard serves every Raft engine and a
// fix to the instruments is made once. The modules document the
// instruments in their own package documentation, for their users.
//
// A module gives Register its scope, the tracker whose MeterProvider and
// attributes the points inherit (the contract of instrumentation/README.md)
// and a function that returns the Facts of one collection, read from what
// the module keeps, never from anything that waits.
package raftmetrics

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Names of the instruments, and the attribute that splits servers.
const (
	Leader        = "cluster.lifecycle.raft.leader"
	LeaderChanges = "cluster.lifecycle.raft.leader.changes"
	LastContact   = "cluster.lifecycle.raft.last_contact"
	Servers       = "cluster.lifecycle.raft.servers"
	SuffrageKey   = "suffrage"
)

// Descriptions of leader.changes and servers for an engine that counts a
// leader change as etcd does (etcd_server_leader_changes_seen_total) and
// reads its whole configuration. An engine that counts otherwise says so
// in its own Spec.
const (
	ChangesSeen            = "Leader changes this node has seen: a leader known that is not the one known before."
	ServersByConfiguration = "Servers in this node's Raft configuration, by suffrage (voter, nonvoter)."
)

// Spec is what a module registers: the scope, where the points go and
// with which attributes, and what its engine's counts mean.
type Spec struct {
	// Scope names the meter: the module's ScopeName. The meter's version
	// is otellifecycle.Version, as the modules are released together.
	Scope string
	// Tracker gives the default MeterProvider (Tracker.MeterProvider) and
	// the attributes every point carries first (Tracker.Attributes).
	Tracker *otellifecycle.Tracker
	// MeterProvider, when not nil, replaces the tracker's (WithMeterProvider).
	MeterProvider metric.MeterProvider
	// Attributes go on every point after the tracker's (WithAttributes).
	Attributes []attribute.KeyValue
	// ChangesDescription and ServersDescription describe leader.changes
	// and servers as the engine counts them (ChangesSeen and
	// ServersByConfiguration, or the engine's own).
	ChangesDescription string
	ServersDescription string
	// LastContact registers last_contact, for an engine that tells when
	// the leader last reached a follower.
	LastContact bool
}

// Facts are what one collection reports.
type Facts struct {
	Leader    bool  // this node is the leader
	Changes   int64 // leader changes, as the engine counts them
	Voters    int   // servers with suffrage voter
	Nonvoters int   // servers with suffrage nonvoter (learners, staging)
	// SinceContact is how long ago the leader last reached this node (0
	// on the leader); last_contact reports it only when Contact is true:
	// not before a first contact, nor after the engine stopped.
	SinceContact time.Duration
	Contact      bool
}

// Register registers the instruments on s's meter provider and one
// callback that observes what read returns. read runs at every
// collection, on the collecting goroutine: it must not wait on the
// engine. The returned Registration unregisters the callback (the
// module's Close). The error is the instruments' or the callback's
// registration's, as the SDK gave it.
func Register(s Spec, read func() Facts) (metric.Registration, error) {
	mp := s.MeterProvider
	if mp == nil {
		mp = s.Tracker.MeterProvider()
	}
	meter := mp.Meter(s.Scope, metric.WithInstrumentationVersion(otellifecycle.Version))
	leader, err1 := meter.Int64ObservableGauge(Leader, metric.WithUnit("{leader}"),
		metric.WithDescription("1 while this node is the Raft leader, else 0."))
	changes, err2 := meter.Int64ObservableCounter(LeaderChanges, metric.WithUnit("{change}"),
		metric.WithDescription(s.ChangesDescription))
	servers, err3 := meter.Int64ObservableUpDownCounter(Servers, metric.WithUnit("{server}"),
		metric.WithDescription(s.ServersDescription))
	instruments := []metric.Observable{leader, changes, servers}
	var contact metric.Float64ObservableGauge
	var err4 error
	if s.LastContact {
		contact, err4 = meter.Float64ObservableGauge(LastContact, metric.WithUnit("s"),
			metric.WithDescription("Seconds since this node last heard from the Raft leader; 0 on the leader."))
		instruments = append(instruments, contact)
	}
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}

	// Attribute sets are built once, here, not in the callback.
	attrs := append(s.Tracker.Attributes(), s.Attributes...)
	base := metric.WithAttributeSet(attribute.NewSet(attrs...))
	voter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(attrs), attribute.String(SuffrageKey, "voter"))...))
	nonvoter := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(attrs), attribute.String(SuffrageKey, "nonvoter"))...))

	reg, err := meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		f := read()
		isLeader := int64(0)
		if f.Leader {
			isLeader = 1
		}
		obs.ObserveInt64(leader, isLeader, base)
		obs.ObserveInt64(changes, f.Changes, base)
		obs.ObserveInt64(servers, int64(f.Voters), voter)
		obs.ObserveInt64(servers, int64(f.Nonvoters), nonvoter)
		if s.LastContact && f.Contact {
			obs.ObserveFloat64(contact, f.SinceContact.Seconds(), base)
		}
		return nil
	}, instruments...)
	if err != nil {
		return nil, err
	}
	return reg, nil
}
