// Package lifecycleraft drives an otellifecycle.Tracker from a
// hashicorp/raft node, so a service built on Raft writes no mapping code:
// what Raft reports (its state, its leader, its configuration) and what the
// service asks of it (bootstrap, join, leave, shut down) become the node's
// lifecycle phase, with every reader of the tracker (the state gauge,
// /readyz, systemd, logs, traces) seeing it. A node's Raft r, made by
// raft.NewRaft(conf, …) on transport, is instrumented so:
//
//	obs, err := lifecycleraft.Observe(r, tracker, conf.LocalID) // before Bootstrap or Join
//	if err != nil {
//		return err
//	}
//	defer obs.Shutdown() // runs before tracker.Close: Stopping, then Raft shuts down
//	if bootstrap {       // the first node of a new cluster: Bootstrapping, then Ready{1}
//		err = obs.Bootstrap(ctx, raft.Configuration{Servers: []raft.Server{
//			{ID: conf.LocalID, Address: transport.LocalAddr()},
//		}})
//	} else { // every other node: Joining{0}, Joining{1} …, then Ready{voters}
//		err = obs.Join(ctx, askSeedToAddMe)
//	}
//	if err != nil {
//		return err
//	}
//
// From Observe on, the Observer owns the tracker's phase: the service calls
// the Observer's Bootstrap, Join, Fail, Recover, Leave and Shutdown, and
// none of the tracker's To* methods. The package follows the contract that
// every engine module of this repository follows (instrumentation/README.md
// in the repository): constructors that return an error, options that are
// errors when invalid, one meaning of a cancelled context, the tracker's
// meter provider and attributes inherited.
//
// # Why Observe takes the server ID
//
// The mapping needs to know whether this node is in the configuration, and
// *raft.Raft does not expose its own ServerID (it keeps Config.LocalID
// private). Observe takes it as an argument rather than an option: without it
// nothing works, so leaving it out should not compile. The node's address is
// not needed: membership, leadership and removal are all decided by ID.
//
// # Mapping
//
// The phase is a function of a few facts, re-derived whenever one changes
// (an observation, a poll, a helper call, the leaderless deadline). The first
// row that matches wins:
//
//	Facts (what Raft reports, what the service asked)                   Phase
//	Shutdown() was called                                               Stopping
//	Raft shut down after Leave()                                        Stopping
//	Raft shut down, this node removed from the configuration            Failed{"removed from the configuration"}
//	  (an operator's RemoveServer; Raft's ShutdownOnRemove on a leader)
//	Raft shut down otherwise (a crash, r.Shutdown() called directly)    Failed{"raft shut down"}
//	Leave() was called                                                  Draining
//	Fail(reason) was called, Recover() not since                        Failed{reason}
//	a leader is known, this node is in the latest configuration         Ready{voters}
//	Join() runs attempt i (from 0), or succeeded and the node is not    Joining{i}
//	  yet a member with a leader
//	this node was in the configuration and is not any more              Failed{"removed from the configuration"}
//	Join() gave up after its last attempt, and the node has not been    Failed{"join failed after N attempts: <error>"}
//	  a member with a leader since
//	a leader is known, this node is not (yet) in the configuration      Joining{last attempt; 0 without Join}
//	no leader, after one was known, for WithLeaderlessTimeout or more   Failed{"no leader for more than 10s (last leader n1)"}
//	no leader, after one was known, for less; this node in the          Ready{voters}
//	  configuration (a leader election)
//	no leader, after one was known, for less; not in the configuration  Joining{last attempt; 0 without Join}
//	Bootstrap() was called, or a fresh node has a configuration with    Bootstrapping
//	  itself in it; no leader seen yet
//	Raft had a log or a snapshot when observed (LastIndex > 0);         Restarting
//	  no leader seen yet
//	otherwise (a fresh node, before Bootstrap or Join)                  Starting
//
// "Had a log or a snapshot" is raft.HasExistingState without its third
// test, a stored term: a fresh node that only voted in an election has a
// term and nothing else, and is not restarting into a cluster. It is read
// once, in Observe, which is why Observe comes before Bootstrap or Join.
//
// Ready's Nodes is the number of voters in this node's latest
// configuration, and follows configuration changes: on the leader at once
// (Raft's PeerObservation), on followers at the next poll (Raft tells
// followers nothing), so within WithPollInterval. Nonvoters are Ready too,
// and are not counted in Nodes.
//
// Failed is not terminal, by the tracker's contract: a node that was Failed
// for want of a leader is Ready again as soon as it sees one, and a node
// whose Join gave up is Ready once an operator adds it.
//
// # Measured timelines
//
// The package's tests measure these on real clusters on loopback, with
// 100 ms heartbeat and election timeouts, a 50 ms poll and a 1 s leaderless
// timeout, under the race detector (go test -v; figures of one run on a
// shared 2-core machine):
//
//   - a killed leader: the survivors' Raft knows the new leader 0.20 s
//     (three nodes) to 0.23 s (five) after the kill; their trackers are
//     never anything but Ready.
//   - a lost quorum: the survivor is Failed 1.07 s after the two others
//     died, and Ready 51 ms after they restarted, which themselves go
//     Restarting → Ready{3} in 51 ms.
//   - a partition: the isolated follower is Failed 1.24 s after the cut,
//     Ready 9 ms after the heal; the majority stays Ready.
//   - a follower restarted on its storage is Restarting for 14 ms.
//   - a leader removed by RemoveServer of its own ID is
//     Failed{"removed from the configuration"} 1 ms after the call returns.
//   - a node whose Join gave up, added by an operator, stays Ready through
//     a leader failover; alone with a dead leader it is Failed for want of
//     a leader 1.17 s later.
//
// # Design choices
//
//   - A leader election keeps the phase. A follower whose leader dies is
//     without a leader for a heartbeat timeout plus an election (tens to
//     hundreds of milliseconds with Raft's defaults); showing that as anything
//     but Ready would make every load balancer and probe flap on every
//     failover, for a cluster that keeps its data and comes back by itself.
//     So the Observer shows the node as it was with its leader until the gap
//     outlasts WithLeaderlessTimeout, and then Failed. The failover is
//     visible to the Raft instruments (leader, leader.changes,
//     last_contact), not to the phase.
//   - The leaderless timeout only runs once the node has known a leader
//     since it was observed. A node still forming its cluster (Starting,
//     Restarting, Bootstrapping, Joining) stays in that phase for as long as
//     it takes: that is what those phases say, and the supervisor's start
//     timeout (systemd's TimeoutStartSec, a Kubernetes startupProbe) is the
//     right judge of "too long" there.
//   - A removed node is Failed: it no longer belongs to the cluster, and
//     only an operator (or a new Join) changes that; except after Leave,
//     where removal is the plan.
//   - Join gives up after its schedule (8 attempts by default, those of
//     otellifecycle.DefaultJoinBackoff) rather than retrying forever, so a
//     node that cannot join says so. The failure ends when the node is a
//     member with a leader, whoever added it.
//   - A cancelled Join is not a failure: the node shows what Raft reports.
//     A Join stops when the node goes away (Close, Shutdown, Leave), so a
//     retry in flight never adds back a node that is leaving.
//   - Raft's FailedHeartbeatObservation and ResumedHeartbeatObservation
//     are filtered out at the source. They are the leader's view of one
//     follower and they repeat every heartbeat while a follower is down, so
//     they would fill the bounded observation channel and push out the
//     observations that matter; a leader that cannot reach a quorum steps
//     down within LeaderLeaseTimeout, which is observed as a lost leader.
//
// # Never blocking Raft
//
// Raft delivers observations to a channel of its own without waiting (a
// raft.Observer made non-blocking); when the channel is full Raft drops the
// observation and Stats counts it. Observations only prompt the Observer to
// re-read Raft (its state, its leader, its latest configuration), which it
// also does every WithPollInterval, so a dropped observation delays the
// phase by one poll at most and never leaves it wrong. The tracker's own
// fan-out never waits on a slow reader either (see otellifecycle).
//
// # Metrics
//
// Besides the tracker's own (cluster.lifecycle.state …), Observe registers
// these observable instruments on the tracker's MeterProvider
// (otellifecycle.Tracker.MeterProvider, unless WithMeterProvider names
// another), on a meter named ScopeName with Version, with the tracker's
// attributes (otellifecycle.Tracker.Attributes, a node id for instance) and
// the WithAttributes ones on every point. So the wiring that gives the
// tracker its exporters and its node id gives the Raft series the same,
// and a query can join the two on those attributes. Close unregisters
// them.
//
//	Metric                                 Instrument                     Unit       Meaning
//	cluster.lifecycle.raft.leader          Int64ObservableGauge           {leader}   1 while this node is the leader, else 0
//	cluster.lifecycle.raft.leader.changes  Int64ObservableCounter         {change}   leaders this node has seen elected (LeaderObservations naming one)
//	cluster.lifecycle.raft.last_contact    Float64ObservableGauge         s          seconds since the leader last reached this node; 0 on the leader;
//	                                                                                 not reported before the first contact nor after shutdown
//	cluster.lifecycle.raft.servers         Int64ObservableUpDownCounter   {server}   servers in the latest configuration, by attribute
//	                                                                                 suffrage = voter | nonvoter (both always reported)
//
// Voters and nonvoters are one instrument with a suffrage attribute, not
// two: they are parts of one whole (their sum is the configuration's size,
// which a query gets by summing), which is what OpenTelemetry's attribute
// guidance and the tracker's own per-phase series do. Through the
// Prometheus exporter these are cluster_lifecycle_raft_leader,
// cluster_lifecycle_raft_leader_changes_total,
// cluster_lifecycle_raft_last_contact_seconds and
// cluster_lifecycle_raft_servers{suffrage="voter"}; the leader gauge's unit
// is the annotation {leader}, not 1, which the exporter would turn into a
// _ratio suffix.
package lifecycleraft
