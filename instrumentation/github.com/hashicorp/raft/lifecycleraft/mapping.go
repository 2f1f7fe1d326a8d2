package lifecycleraft

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Failure reasons. They are part of the contract (alerts match them), like
// the tracker's Detail texts.
const (
	reasonRemoved  = "removed from the configuration"
	reasonShutdown = "raft shut down"
	reasonService  = "failed by the service"
)

// facts is everything the mapping looks at: what Raft reported and what
// the service asked for. The Observer keeps one, under its mutex, and
// derive turns it into a phase. Keeping the mapping a pure function of
// facts is what makes it one table (the package documentation's).
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

	// From the service, through the Observer's helpers.
	bootstrapping bool   // Bootstrap was called, and it or an earlier one did not fail
	bootstrapped  bool   // a Bootstrap succeeded
	joining       bool   // Join is running, or succeeded and the node is not yet a member
	attempt       uint32 // Join's current or last attempt
	joinFailed    string // Join gave up, and the node has not been a member with a leader since: the reason
	leaving       bool   // Leave was called
	stopping      bool   // Shutdown was called
	failed        string // Fail was called, and Recover not since: the reason
}

// derive returns the phase the facts mean. The order of the cases is the
// precedence documented in the package documentation; keep the two in
// step.
func derive(f *facts, now time.Time, leaderless time.Duration) otellifecycle.State {
	removed := f.wasMember && !f.member
	switch {
	case f.stopping:
		return otellifecycle.StoppingState()
	case f.state == raft.Shutdown && f.leaving:
		return otellifecycle.StoppingState()
	case f.state == raft.Shutdown && removed:
		return otellifecycle.FailedState(reasonRemoved)
	case f.state == raft.Shutdown:
		return otellifecycle.FailedState(reasonShutdown)
	case f.leaving:
		return otellifecycle.DrainingState()
	case f.failed != "":
		return otellifecycle.FailedState(f.failed)
	case f.leader != "" && f.member:
		return otellifecycle.ReadyState(f.voters)
	case f.joining:
		return otellifecycle.JoiningState(f.attempt)
	case removed:
		return otellifecycle.FailedState(reasonRemoved)
	case f.joinFailed != "":
		return otellifecycle.FailedState(f.joinFailed)
	case f.leader != "":
		// A leader talks to this node, which is not (yet) a member: it is
		// being added, by its own Join or by an operator.
		return otellifecycle.JoiningState(f.attempt)
	case f.sawLeader && now.Sub(f.leaderLostAt) >= leaderless:
		return otellifecycle.FailedState(leaderlessReason(leaderless, f.lastLeader))
	case f.sawLeader && f.member:
		// A leader election, shorter so far than the leaderless timeout:
		// what the node was with its leader.
		return otellifecycle.ReadyState(f.voters)
	case f.sawLeader:
		return otellifecycle.JoiningState(f.attempt)
	case f.bootstrapping, !f.existing && f.member:
		return otellifecycle.BootstrappingState()
	case f.existing:
		return otellifecycle.RestartingState()
	default:
		return otellifecycle.StartingState()
	}
}

// leaderlessReason names the last leader and how long the node has been
// without one. It says "more than" the timeout rather than the exact time,
// so that the reason, and with it the state, is the same at every
// evaluation: one transition to Failed, not one per poll.
func leaderlessReason(timeout time.Duration, last raft.ServerID) string {
	return fmt.Sprintf("no leader for more than %v (last leader %s)", timeout, last)
}

// leaderlessDeadline is when derive will turn the facts into Failed if
// nothing changes, or the zero time when it will not.
func leaderlessDeadline(f *facts, leaderless time.Duration) time.Time {
	if f.leader != "" || !f.sawLeader {
		return time.Time{}
	}
	return f.leaderLostAt.Add(leaderless)
}
