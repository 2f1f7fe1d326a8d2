// Package lifecycleraft drives an otellifecycle.Tracker from a
// hashicorp/raft node, so a service built on Raft writes no mapping code:
// what Raft reports (its state, its leader, its configuration) and what the
// service asks of it (bootstrap, join, leave, shut down) become the node's
// lifecycle phase, with every reader of the tracker (the state gauge,
// /readyz, systemd, logs, traces) seeing it.
//
//	obs := lifecycleraft.Observe(r, tracker, conf.LocalID)
//	defer obs.Shutdown()                          // Stopping, then Raft shuts down
//	err := obs.Join(ctx, askSeedToAddMe)          // Joining{0}, Joining{1} …, then Ready{n}
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
//	Raft shut down otherwise (a crash, r.Shutdown() called directly)    Failed{"raft shut down"}
//	Leave() was called                                                  Draining
//	Fail(reason) was called, Recover() not since                        Failed{reason}
//	a leader is known, this node is in the latest configuration         Ready{voters}
//	Join() runs attempt i (from 0), or succeeded and the node is not    Joining{i}
//	  yet a member with a leader
//	this node was in the configuration and is not any more              Failed{"removed from the configuration"}
//	Join() gave up after its last attempt                               Failed{"join failed after N attempts: <error>"}
//	a leader is known, this node is not (yet) in the configuration      Joining{last attempt; 0 without Join}
//	no leader, after one was known, for WithLeaderlessTimeout or more   Failed{"no leader for more than 10s (last leader n1)"}
//	no leader, after one was known, for less                            unchanged (usually Ready)
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
// for want of a leader is Ready again as soon as it sees one.
//
// Choices the issue left open, and why:
//
//   - A leader election keeps the phase. A follower whose leader dies is
//     without a leader for a heartbeat timeout plus an election (tens to
//     hundreds of milliseconds with Raft's defaults); showing that as anything
//     but Ready would make every load balancer and probe flap on every
//     failover, for a cluster that keeps its data and comes back by itself.
//     So the Observer shows nothing until the gap outlasts
//     WithLeaderlessTimeout, and then Failed. The tests measure both: with
//     100 ms heartbeat and election timeouts, the survivors of a killed
//     leader know the new one about 0.2 s later and are never anything but
//     Ready, while the survivor of a lost quorum is Failed just past the
//     timeout. The failover is visible to the Raft instruments (leader,
//     leader.changes, last_contact), not to the phase.
//   - The leaderless timeout only runs once the node has known a leader
//     since it was observed. A node still forming its cluster (Starting,
//     Restarting, Bootstrapping, Joining) stays in that phase for as long as
//     it takes: that is what those phases say, and the supervisor's start
//     timeout (systemd's TimeoutStartSec, a Kubernetes startupProbe) is the
//     right judge of "too long" there.
//   - A removed node is Failed, as the issue asks, except after Leave,
//     where removal is the plan.
//   - Join gives up after its schedule (8 attempts by default, as the
//     origin's backoff has 8 steps) rather than retrying forever, so a node
//     that cannot join says so.
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
// these observable instruments on the WithMeterProvider meter (default
// otel.GetMeterProvider()), named ScopeName with Version, with the
// WithAttributes attributes on every point. Close unregisters them.
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
