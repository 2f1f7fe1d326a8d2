// Package lifecycleetcd drives an otellifecycle.Tracker from an etcd
// server embedded in the process (go.etcd.io/etcd/server/v3/embed), as
// many control planes run one, so a service that embeds etcd writes no
// mapping code: what the server reports (ready to serve, its leader, its
// membership, its stop, its errors), what its data directory held at start
// and what the service asks of it (leave, stop) become the member's
// lifecycle phase, with every reader of the tracker (the state gauge,
// /readyz, systemd, logs, traces) seeing it.
//
//	e, err := embed.StartEtcd(cfg)
//	obs, err := lifecycleetcd.Observe(e, tracker) // right after StartEtcd
//	defer obs.Shutdown()                          // Stopping, then e.Close()
//	… read obs.Err() where the service read e.Err()
//
// # Where the calls go
//
// Observe comes right after embed.StartEtcd returns, before the service
// waits on e.Server.ReadyNotify(): it reads then whether the member
// served in an earlier run (see Restart below).
//
// Observe takes e.Err() over. etcd reports there the errors of the
// goroutines that serve its listeners, and etcd's own main exits on the
// first; a channel has one reader, so the Observer reads it, shows the
// first error as Failed and passes every error on through Observer.Err,
// which the service reads instead. After Observer.Close, e.Err() is the
// service's again.
//
// Shutdown stops the member: it shows Stopping, then closes etcd
// (embed.Etcd.Close). The service does not close etcd as well: etcd's
// Close panics when it is called twice.
//
// There is no Join. A member joins an etcd cluster by being added to it
// first (etcdctl member add, clientv3's Cluster.MemberAdd, or
// MemberAddAsLearner) and then started with InitialClusterState
// "existing"; by the time the service has an *embed.Etcd, the join is
// under way, and the Observer shows it as Joining.
//
// # Mapping
//
// The phase is a function of a few facts, re-derived whenever one changes
// (a notification from the server, a poll, a helper call, the leaderless
// deadline). The first row that matches wins:
//
//	Facts (what the server reports, what the service asked)               Phase
//	Shutdown() was called                                                 Stopping
//	the server stops (StoppingNotify) or has stopped, after Leave()       Stopping
//	the server has stopped (StopNotify), this member removed from the     Failed{"removed from the configuration"}
//	  cluster
//	the server has stopped otherwise (e.Close() or HardStop called        Failed{"etcd server stopped"}
//	  directly, or a removal it heard of only from its peers)
//	Leave() was called                                                    Draining
//	Fail(reason) was called, Recover() not since                          Failed{reason}
//	etcd reported an error through e.Err()                                Failed{"etcd: <the first error>"}
//	the cluster has removed this member                                   Failed{"removed from the configuration"}
//	this member is a learner                                              Joining{0}
//	the member serves (ReadyNotify closed) and knows a leader             Ready{voting members}
//	it serves, and has known no leader for WithLeaderlessTimeout or more  Failed{"no leader for more than 10s (last leader 8e9e05c52164694d)"}
//	it serves, and has known no leader for less                           unchanged (usually Ready)
//	it does not serve yet, and served in an earlier run (see Restart)     Restarting
//	it does not serve yet, InitialClusterState "new"                      Bootstrapping
//	otherwise: it does not serve yet, InitialClusterState "existing"      Joining{0}
//
// Ready's Nodes is the number of voting members in the cluster's
// membership as this member knows it; learners are not counted. "Serves"
// is etcd's ReadyNotify: the member has published itself to the cluster
// through Raft and answers clients. Member IDs in reasons are written as
// etcd writes them, in hexadecimal.
//
// Failed is not terminal, by the tracker's contract: a member that was
// Failed for want of a leader is Ready again as soon as it knows one.
//
// Decisions, and why:
//
//   - A leader election keeps the phase. etcd's members elect a new leader
//     within an election timeout or two of losing one; showing that as
//     anything but Ready would make every load balancer and probe flap on
//     every failover, for a cluster that recovers by itself. So the
//     Observer shows nothing until the gap outlasts WithLeaderlessTimeout,
//     and then Failed. The failover is visible to the Raft instruments
//     (leader, leader.changes), not to the phase.
//   - The leaderless timeout runs only once the member serves. A member
//     still starting stays Restarting, Bootstrapping or Joining for as long
//     as that takes; the supervisor's start timeout is the judge there.
//   - A learner is Joining: etcd promotes a learner only once it has caught
//     up with the leader, so a learner is a member on its way in.
//   - A removed member is Failed, except after Leave, where removal is the
//     plan. etcd stops a removed member by itself a second after it applies
//     its removal; it stays Failed (or Stopping, after Leave). A member
//     that hears of its removal from its peers (which refuse it) before it
//     has applied it stops at once instead; the Observer decides on its
//     reason only once the server has stopped (StopNotify), when its last
//     apply has run: Failed{"removed from the configuration"} if that
//     apply brought the removal, Failed{"etcd server stopped"} if the
//     member never learned it. etcd stops a member by itself for nothing
//     but a removal, but from outside that stop looks like any other.
//   - An error from e.Err() is Failed and stays so: the listener it came
//     from serves no more, whatever Raft does, and etcd's own main exits
//     on it. Recover does not clear it; restarting the member does.
//   - The Observer never calls EtcdServer.IsLearner, which panics on a
//     member that has been removed from the cluster; it finds the member
//     in the cluster's membership instead.
//
// # Restart
//
// A member that starts on a data directory of an earlier run is
// Restarting. The server does not say which kind of start it made; the
// Observer tells by the member's own entry in the membership it starts
// with. A member publishes its client URLs to the cluster through Raft
// when it first serves, and keeps them in its data directory; a new
// member's entry, made from the initial cluster, has peer URLs only, until
// its own publication is applied, milliseconds after Observe at the
// earliest. A member that stopped before it ever served (or within etcd's
// 100 ms backend commit interval of first serving, by a crash) therefore
// starts again as Bootstrapping or Joining, as its InitialClusterState
// says, which is what it still is. (The cluster version, which a member
// also recovers from its data, is settled by the leader seconds after a
// new cluster forms: a member that crashed before that was shown
// Bootstrapping on its restart in this package's tests, so it is not the
// fact used.)
//
// # Never blocking etcd
//
// Nothing of etcd waits on the Observer. The server's notifications are
// channels it closes (ReadyNotify, LeaderChangedNotify, StoppingNotify,
// StopNotify), which the Observer's goroutine waits on; its state is read
// from that goroutine (Leader, an atomic; the membership and IsIDRemoved,
// under the cluster's own short lock), on every notification and every
// WithPollInterval, since the server announces no membership change. The
// goroutines that serve etcd's listeners wait to hand their error to
// e.Err()'s reader: a goroutine of the Observer's takes it at once and
// passes it on without waiting (Err holds 16; more, unread, are dropped and
// counted in Stats), whatever the tracker is doing. TestStalledTrackerNeverBlocksEtcd
// holds this with a tracker whose readers never return.
//
// # CheckQuorum and PreVote
//
// etcd always runs Raft with CheckQuorum, so a leader cut off from its
// quorum steps down and its member is Failed after the leaderless timeout
// like any other of a minority. PreVote is on by default (--pre-vote);
// without it a member that comes back from a partition forces an election,
// which costs no phase, the gap being far shorter than the leaderless
// timeout, but shows as a leader change.
//
// # Timelines
//
// Measured by this package's tests under the race detector on a shared
// 2-core machine (five runs), with a 10 ms heartbeat, a 100 ms election
// timeout, WithLeaderlessTimeout(1s) and WithPollInterval(50ms):
//
//   - A new cluster of three: embed.StartEtcd took 2.02–2.05 s (etcd asks
//     the other members whether the cluster is bootstrapped already), then
//     Ready{3} 0.04–0.08 s after Observe.
//   - A crashed leader (HardStop): the survivors knew the new leader
//     0.10–0.23 s later and were never anything but Ready{3}; the crashed
//     member was Failed{"etcd server stopped"} 12–17 ms after the crash
//     began, when its server had stopped.
//   - A lost quorum (a follower crashed, then the leader): the survivor
//     Failed 1.15–1.21 s after the leader's crash began, and Ready{3}
//     30–118 ms after the two started again on their data, each Restarting
//     until then.
//   - A restart on the data directory: StartEtcd took 14–29 ms, Ready{3}
//     6–119 ms later, for one member or for the whole cluster.
//   - A voter added and started: StartEtcd took 24–45 ms, Joining, then
//     Ready{4} 7–22 ms later. A learner: Joining until promoted, Ready{4}
//     24–40 ms after the promotion was asked for.
//   - A removed member: Failed within a poll of applying its removal, and
//     so when etcd stopped it about a second later.
//
// Adding or removing a voter took about 5 s more in each test than the
// rest: etcd refuses to change its voters until the members have been
// connected for 5 s (--strict-reconfig-check).
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
//	cluster.lifecycle.raft.leader          Int64ObservableGauge           {leader}   1 while this member is the leader, else 0
//	cluster.lifecycle.raft.leader.changes  Int64ObservableCounter         {change}   leader changes this member has seen: a leader known that
//	                                                                                 is not the one known before (etcd's leader_changes_seen rule)
//	cluster.lifecycle.raft.servers         Int64ObservableUpDownCounter   {server}   members of the cluster, by attribute suffrage =
//	                                                                                 voter | nonvoter (learners; both always reported)
//
// Through the Prometheus exporter these are cluster_lifecycle_raft_leader,
// cluster_lifecycle_raft_leader_changes_total and
// cluster_lifecycle_raft_servers{suffrage="voter"}. etcd keeps its own
// Prometheus metrics (etcd_server_has_leader, …) on the default Prometheus
// registry, as ever; these are the project's, beside the lifecycle. etcd
// does not expose when a follower last heard from its leader, so there is
// no cluster.lifecycle.raft.last_contact here. Leader changes are counted
// from the Observer's reads, one after every LeaderChangedNotify.
//
// # Build cost
//
// etcd's server is a large build: this module's dependencies are 556
// packages. Measured on this project's 2-core machine with an empty build
// cache, compiling them took 34 s (53 s of user and 12 s of system CPU,
// 0.3 GB peak memory), and 40 s again with the race detector, the build
// cache growing by 640 MB for both; with the cache warm, 0.2 s. This
// package's race-enabled test binary took 55 s from an empty cache (87 s
// of user and 17 s of system CPU, 0.55 GB peak memory; a 47 MB binary),
// 0.3 s warm, and its tests run for about 90 s. It is why
// this is a module of its own: a service that imports otellifecycle, or
// lifecycleetcdraft, compiles none of it. The module also brings
// go.etcd.io/raft/v3 v3.7.0, which etcd's server requires; lifecycleetcdraft
// builds against v3.7.0 as well, so one service may use both.
package lifecycleetcd
