// Package lifecycleetcdraft drives an otellifecycle.Tracker from an etcd
// Raft node (go.etcd.io/raft/v3, the Raft under etcd and many databases
// and control planes), so a service built on it writes no mapping code:
// what the node reports (its leader, its role, its configuration), what
// its storage held at start and what the service asks of it (join, leave,
// stop) become the node's lifecycle phase, with every reader of the
// tracker (the state gauge, /readyz, systemd, logs, traces) seeing it.
//
//	node := raft.StartNode(conf, peers)                              // or raft.RestartNode(conf)
//	obs, err := lifecycleetcdraft.Observe(node, storage, tracker)    // before the Ready loop starts
//	defer obs.Shutdown()                                             // Stopping, then node.Stop()
//	… in the Ready loop, after applying rd and before node.Advance(): obs.Ready(rd)
//
// # Where the calls go
//
// Observe reads the storage once, to tell a restart from a new node, so it
// comes after raft.StartNode or raft.RestartNode and before the service's
// Ready loop handles its first Ready (which writes the new node's
// bootstrap entries to the storage and would make it look restarted).
//
// The service owns the Ready loop, and the Observer never blocks or slows
// it: it reads Node.Status from a goroutine of its own. The one call it
// adds to the loop, Observer.Ready, is optional and never waits: it only
// looks at whether the Ready holds a SoftState (a new leader, a lost one,
// a new role) or a configuration change, and if so wakes the Observer's
// goroutine, which reads Status at once. Without it every change is seen
// at the next WithPollInterval (1 s by default) instead. Measured on this
// project's 2-core machine (BenchmarkReadyHook, BenchmarkReadyLoop), the
// call costs 8–10 ns on a Ready with nothing to tell, 51–53 ns on one with
// 64 committed entries to look through, and 27–29 ns when it signals, with
// no allocation; a turn of a one-node Ready loop with a proposal took
// 3.5–4.2 µs with and without it, the difference below the noise.
//
// # Mapping
//
// The phase is a function of a few facts, re-derived whenever one changes
// (a Status read on a signal or a poll, a helper call, the leaderless
// deadline). The first row that matches wins:
//
//	Facts (what the node and its storage report, what the service asked)  Phase
//	Shutdown() was called                                                 Stopping
//	the node stopped after Leave()                                        Stopping
//	the node stopped, this node removed from the configuration            Failed{"removed from the configuration"}
//	the node stopped otherwise (node.Stop() called directly)              Failed{"raft node stopped"}
//	Leave() was called                                                    Draining
//	Fail(reason) was called, Recover() not since                          Failed{reason}
//	a leader is known, this node is a voter                               Ready{voters}
//	Join() runs attempt i (from 0), or succeeded and the node is not      Joining{i}
//	  yet a voter with a leader
//	this node was a voter or a learner and is in the configuration no     Failed{"removed from the configuration"}
//	  more (and not after Leave)
//	Join() gave up after its last attempt                                 Failed{"join failed after N attempts: <error>"}
//	a leader is known, the storage had entries and this node has not      Restarting
//	  yet seen itself in the configuration (its log is being replayed)
//	a leader is known, this node is a learner or not (yet) in the         Joining{last attempt; 0 without Join}
//	  configuration
//	no leader, after one was known, for WithLeaderlessTimeout or more     Failed{"no leader for more than 10s (last leader 3)"}
//	no leader, after one was known, for less                              unchanged (usually Ready)
//	the storage had entries when observed (LastIndex > 0); no leader      Restarting
//	  seen yet
//	fresh storage, this node a voter (raft.StartNode listed it among      Bootstrapping
//	  the peers); no leader seen yet
//	otherwise: fresh storage, not a voter (raft.RestartNode on empty      Joining{last attempt; 0 without Join}
//	  storage is how etcd starts a member that joins) or a learner
//
// Ready's Nodes is the number of voters in this node's configuration
// (both halves of a joint configuration). Node IDs in reasons are
// hexadecimal, as etcd writes them.
//
// Failed is not terminal, by the tracker's contract: a node that was Failed
// for want of a leader is Ready again as soon as it sees one.
//
// Decisions, and why:
//
//   - A leader election keeps the phase. A follower whose leader dies is
//     without one for an election timeout and an election; showing that as
//     anything but Ready would make every load balancer and probe flap on
//     every failover, for a cluster that keeps its data and recovers by
//     itself. So the Observer shows nothing until the gap outlasts
//     WithLeaderlessTimeout, and then Failed. The failover is visible to the
//     Raft instruments (leader, leader.changes), not to the phase.
//   - The leaderless timeout only runs once the node has known a leader
//     since it was observed. A node still forming its cluster stays
//     Restarting, Bootstrapping or Joining for as long as that takes: that
//     is what those phases say, and the supervisor's start timeout
//     (systemd's TimeoutStartSec, a Kubernetes startupProbe) is the right
//     judge of "too long" there.
//   - A learner is Joining, whatever it knows: etcd uses learners for
//     members that catch up before they are promoted, and refuses to
//     promote one that has not. A service that keeps permanent learners
//     (read replicas) sees them Joining.
//   - A removed node is Failed, except after Leave, where removal is the
//     plan. A node learns of its removal by applying the configuration
//     change; one the leader stopped replicating to before it saw the
//     change committed never does, loses its leader instead, and is Failed
//     for that after the leaderless timeout.
//   - A node stopped with node.Stop rather than Shutdown answers Status
//     with an empty one, which the next poll reads as stopped: Failed,
//     within WithPollInterval.
//   - Join gives up after its schedule (8 attempts by default) rather than
//     retrying forever, so a node that cannot join says so.
//
// # CheckQuorum and PreVote
//
// etcd runs Raft with both; so should a service that uses this package.
//
// CheckQuorum makes a leader that has not heard from a quorum for an
// election timeout step down. Without it, a leader cut off from every
// follower stays leader in its own view for good (the others elect
// another), its Status says so, and its Observer shows Ready for as long
// as the partition lasts: the Observer needs CheckQuorum to see an
// isolated leader (TestIsolatedLeaderStaysReadyWithoutCheckQuorum shows
// the difference). With it, that leader steps down, has no leader, and is
// Failed after the leaderless timeout like any other node of a minority.
//
// PreVote keeps a node that was cut off (and campaigned, in vain, in ever
// higher terms) from unseating the leader when it comes back. Without it,
// its return forces an election: the leader steps down and a new term
// begins. That costs no phase, the gap being far shorter than the
// leaderless timeout, but shows as a leader change
// (TestWithoutPreVoteAReturningNodeForcesAnElection); with it, the
// majority's leader stays (TestPartitionedMinorityFailsAndTheMajorityStaysReady).
//
// # Timelines
//
// Measured by this package's tests under the race detector on a shared
// 2-core machine, with 10 ms ticks, ElectionTick 10 and HeartbeatTick 1
// (an election timeout of 100–200 ms), WithLeaderlessTimeout(1s) and
// WithPollInterval(50ms), obs.Ready in the Ready loop unless said:
//
//   - Bootstrap: 3 nodes Ready{3} 0.10–0.14 s after raft.StartNode; 5 nodes
//     on polls alone Ready{5} after 0.15 s.
//   - A stopped leader of 5: the survivors know the new leader 0.13–0.14 s
//     later and are never anything but Ready{5}; the stopped node is
//     Failed{"raft node stopped"} 38–47 ms later (the next poll). On a
//     network that drops a fifth of all messages, 3 nodes: 0.13–0.16 s.
//   - A lost quorum of 3: every node Failed 1.11–1.2 s after the partition
//     (the timeout, plus the election timeout that passes before a
//     follower gives its leader up, or before the leader steps down by
//     CheckQuorum), and Ready{3} 8–9 ms after it healed.
//   - A partitioned minority of 5 (the leader and a follower): Failed
//     1.2–1.36 s after the partition and Ready{5} 0–4 ms after the heal; the
//     majority's three never left Ready and kept their new leader.
//   - A restart on existing storage: Restarting, then Ready{3} 0.06–0.13 s
//     later, for one node or for a whole cluster restarted at once.
//   - A node joining through a conf change, its first attempt failing and
//     the second 50 ms later: Ready{4} 57 ms after Join began.
//
// # Metrics
//
// Besides the tracker's own (cluster.lifecycle.state …), Observe registers
// these observable instruments on the tracker's MeterProvider (or
// WithMeterProvider's), on a meter named ScopeName with
// otellifecycle.Version, with the tracker's attributes
// (Tracker.Attributes) and WithAttributes' on every point. They are the
// names every Raft engine module of this project uses, so one dashboard
// serves them all. Close unregisters them.
//
//	Metric                                 Instrument                     Unit       Meaning
//	cluster.lifecycle.raft.leader          Int64ObservableGauge           {leader}   1 while this node is the leader, else 0
//	cluster.lifecycle.raft.leader.changes  Int64ObservableCounter         {change}   leader changes this node has seen: a leader known that is
//	                                                                                 not the one known before (etcd's leader_changes_seen rule)
//	cluster.lifecycle.raft.servers         Int64ObservableUpDownCounter   {server}   servers in this node's configuration, by attribute
//	                                                                                 suffrage = voter | nonvoter (learners; both always reported)
//
// Through the Prometheus exporter these are cluster_lifecycle_raft_leader,
// cluster_lifecycle_raft_leader_changes_total and
// cluster_lifecycle_raft_servers{suffrage="voter"}. The callback reads the
// facts the Observer keeps, never the node. etcd Raft does not expose when
// a follower last heard from its leader, so there is no
// cluster.lifecycle.raft.last_contact here.
//
// Leader changes are counted from the Observer's Status reads: with
// obs.Ready, a read follows every SoftState change at once, so a change
// goes uncounted only when it and the next come before the read; on polls
// alone, those that come and go between two polls are missed.
//
// # raft v3.7
//
// go.etcd.io/raft/v3 v3.7.0 made the fields of its protocol messages
// pointers (HardState, Entry, Message) and changed Step and Storage to
// match. This module requires v3.6.0, but it uses only what both versions
// share (Node.Status and its SoftState and Config, Storage.LastIndex,
// Ready.SoftState) and reads an entry's type through a small generic
// function that takes either form. A service on v3.7 therefore does
// nothing special: its go.mod requires v3.7.0, Go's minimal version
// selection builds this package against v3.7.0, and the calls read the
// same. TestPassesAgainstRaftV37 runs vet and every test of this package
// against v3.7.0 to hold that.
package lifecycleetcdraft
