package lifecycleetcdraft

import (
	"strconv"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// reasonStopped is Failed's reason for a node stopped otherwise than by
// Shutdown or after Leave. It is part of the contract (alerts match it),
// like the tracker's Detail texts; the others are every Raft engine
// module's (engine.ReasonRemoved, engine.LeaderlessReason).
const reasonStopped = "raft node stopped"

// facts is what the mapping looks at besides the service's
// engine.Intents: what the node's Status said, and what its storage held.
// The Observer's engine.Driver keeps them, under its mutex, and derive
// turns them into a phase. Keeping the mapping a pure function of the
// facts is what makes it one table (the package documentation's).
type facts struct {
	// From the storage, once, in Observe.
	existing bool // the log had entries (or a snapshot) when observed

	// From the node's Status, as last read.
	stopped      bool           // the node is stopped (Status is empty)
	role         raft.StateType // follower, candidate, leader …
	lead         uint64         // raft.None while no leader is known
	sawLeader    bool           // a leader was known at some point since Observe
	lastLeader   uint64         // the last leader known
	leaderLostAt time.Time      // when lead became None after sawLeader
	voter        bool           // this node is a voter in its configuration
	learner      bool           // … or a learner
	wasMember    bool           // it was one or the other at some point since Observe
	voters       int            // voters in the configuration (both halves of a joint one)
	learners     int            // learners in it (and those about to become learners)
	changes      int64          // leader changes seen (as etcd counts them)
}

// joined says whether the node is a voter with a leader: Join has nothing
// to do, and a Join intent ends (see refresh).
func joined(f *facts) bool { return f.lead != raft.None && f.voter }

// derive returns the phase the facts and the service's intents mean, and
// hold = true when they mean "keep the phase as it is" (a leader election
// shorter than the leaderless timeout). The order of the cases is the
// precedence documented in the package documentation; keep the two in
// step.
func derive(f *facts, in *engine.Intents, now time.Time, leaderless time.Duration) (s otellifecycle.State, hold bool) {
	removed := f.wasMember && !f.voter && !f.learner
	switch {
	case in.Stopping:
		return otellifecycle.StoppingState(), false
	case f.stopped && in.Leaving:
		return otellifecycle.StoppingState(), false
	case f.stopped && removed:
		return otellifecycle.FailedState(engine.ReasonRemoved), false
	case f.stopped:
		return otellifecycle.FailedState(reasonStopped), false
	case in.Leaving:
		return otellifecycle.DrainingState(), false
	case in.Failed != "":
		return otellifecycle.FailedState(in.Failed), false
	case joined(f):
		return otellifecycle.ReadyState(f.voters), false
	case in.Joining:
		return otellifecycle.JoiningState(in.Attempt), false
	case removed:
		return otellifecycle.FailedState(engine.ReasonRemoved), false
	case in.JoinFailed != "":
		return otellifecycle.FailedState(in.JoinFailed), false
	case f.lead != raft.None && f.existing && !f.wasMember:
		// A restarted node hears from the leader before its Ready loop has
		// replayed the configuration changes of its log.
		return otellifecycle.RestartingState(), false
	case f.lead != raft.None:
		// A leader talks to this node, which is a learner or not (yet) in
		// its configuration: it is being added.
		return otellifecycle.JoiningState(in.Attempt), false
	case f.sawLeader:
		if now.Sub(f.leaderLostAt) >= leaderless {
			// The last leader in hexadecimal, as etcd writes node IDs.
			return otellifecycle.FailedState(engine.LeaderlessReason(leaderless, strconv.FormatUint(f.lastLeader, 16))), false
		}
		return otellifecycle.State{}, true
	case f.existing:
		return otellifecycle.RestartingState(), false
	case f.voter:
		return otellifecycle.BootstrappingState(), false
	default:
		return otellifecycle.JoiningState(in.Attempt), false
	}
}

// leaderlessDeadline is when derive will turn the facts into Failed if
// nothing changes, or the zero time when it will not.
func leaderlessDeadline(f *facts, leaderless time.Duration) time.Time {
	if f.lead != raft.None || !f.sawLeader {
		return time.Time{}
	}
	return f.leaderLostAt.Add(leaderless)
}
