package lifecycleraft

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// reasonShutdown is Failed's reason for Raft shut down otherwise than by
// Shutdown or after Leave. It is part of the contract (alerts match it),
// like the tracker's Detail texts; the others are every Raft engine
// module's (engine.ReasonRemoved, engine.LeaderlessReason).
const reasonShutdown = "raft shut down"

// facts is what the mapping looks at besides the service's
// engine.Intents: what Raft reported, and what the service asked of
// Bootstrap. The Observer's engine.Driver keeps them, under its mutex, and
// derive turns them into a phase. Keeping the mapping a pure function of
// the facts is what makes it one table (the package documentation's).
type facts struct {
	// From Raft.
	existing     bool           // Raft had state (log or snapshot) when observed
	state        raft.RaftState // as last read
	leader       raft.ServerID  // "" while no leader is known
	sawLeader    bool           // a leader was known at some point since Observe
	lastLeader   raft.ServerID  // the last leader known
	leaderLostAt time.Time      // when leader became "" after sawLeader
	member       bool           // this node is in the latest configuration
	wasMember    bool           // … and was at some point since Observe
	voters       int            // voters in the latest configuration
	nonvoters    int            // nonvoters (and staging) in it
	elected      int64          // LeaderObservations naming a leader

	// From the service, through Bootstrap.
	bootstrapping bool // Bootstrap was called, and it or an earlier one did not fail
	bootstrapped  bool // a Bootstrap succeeded
}

// joined says whether the node is a member with a leader: Join has
// nothing to do, and a Join intent ends (see refresh).
func joined(f *facts) bool { return f.leader != "" && f.member }

// derive returns the phase the facts and the service's intents mean.
// hold is never true here: a leader election shows what the node was with
// its leader, by rows of the mapping of their own. The order of the cases
// is the precedence documented in the package documentation; keep the two
// in step.
func derive(f *facts, in *engine.Intents, now time.Time, leaderless time.Duration) (s otellifecycle.State, hold bool) {
	removed := f.wasMember && !f.member
	switch {
	case in.Stopping:
		return otellifecycle.StoppingState(), false
	case f.state == raft.Shutdown && in.Leaving:
		return otellifecycle.StoppingState(), false
	case f.state == raft.Shutdown && removed:
		return otellifecycle.FailedState(engine.ReasonRemoved), false
	case f.state == raft.Shutdown:
		return otellifecycle.FailedState(reasonShutdown), false
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
	case f.leader != "":
		// A leader talks to this node, which is not (yet) a member: it is
		// being added, by its own Join or by an operator.
		return otellifecycle.JoiningState(in.Attempt), false
	case f.sawLeader && now.Sub(f.leaderLostAt) >= leaderless:
		return otellifecycle.FailedState(engine.LeaderlessReason(leaderless, string(f.lastLeader))), false
	case f.sawLeader && f.member:
		// A leader election, shorter so far than the leaderless timeout:
		// what the node was with its leader.
		return otellifecycle.ReadyState(f.voters), false
	case f.sawLeader:
		return otellifecycle.JoiningState(in.Attempt), false
	case f.bootstrapping, !f.existing && f.member:
		return otellifecycle.BootstrappingState(), false
	case f.existing:
		return otellifecycle.RestartingState(), false
	default:
		return otellifecycle.StartingState(), false
	}
}

// leaderlessDeadline is when derive will turn the facts into Failed if
// nothing changes, or the zero time when it will not.
func leaderlessDeadline(f *facts, leaderless time.Duration) time.Time {
	if f.leader != "" || !f.sawLeader {
		return time.Time{}
	}
	return f.leaderLostAt.Add(leaderless)
}
