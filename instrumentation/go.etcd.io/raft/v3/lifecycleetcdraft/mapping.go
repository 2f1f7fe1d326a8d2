package lifecycleetcdraft

import (
	"fmt"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Failure reasons. They are part of the contract (alerts match them), like
// the tracker's Detail texts.
const (
	reasonRemoved = "removed from the configuration"
	reasonStopped = "raft node stopped"
	reasonService = "failed by the service"
)

// facts is everything the mapping looks at: what the node's Status said
// and what the service asked for. The Observer keeps one, under its mutex,
// and derive turns it into a phase. Keeping the mapping a pure function of
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

	// From the service, through the Observer's helpers.
	joining    bool   // Join is running, or succeeded and the node is not yet a voter
	attempt    uint32 // Join's current or last attempt
	joinFailed string // Join gave up: the reason
	leaving    bool   // Leave was called
	stopping   bool   // Shutdown was called
	failed     string // Fail was called, and Recover not since: the reason
}

// derive returns the phase the facts mean, and hold = true when they mean
// "keep the phase as it is" (a leader election shorter than the leaderless
// timeout). The order of the cases is the precedence documented in the
// package documentation; keep the two in step.
func derive(f *facts, now time.Time, leaderless time.Duration) (s otellifecycle.State, hold bool) {
	removed := f.wasMember && !f.voter && !f.learner
	switch {
	case f.stopping:
		return otellifecycle.StoppingState(), false
	case f.stopped && f.leaving:
		return otellifecycle.StoppingState(), false
	case f.stopped && removed:
		return otellifecycle.FailedState(reasonRemoved), false
	case f.stopped:
		return otellifecycle.FailedState(reasonStopped), false
	case f.leaving:
		return otellifecycle.DrainingState(), false
	case f.failed != "":
		return otellifecycle.FailedState(f.failed), false
	case f.lead != raft.None && f.voter:
		return otellifecycle.ReadyState(f.voters), false
	case f.joining:
		return otellifecycle.JoiningState(f.attempt), false
	case removed:
		return otellifecycle.FailedState(reasonRemoved), false
	case f.joinFailed != "":
		return otellifecycle.FailedState(f.joinFailed), false
	case f.lead != raft.None && f.existing && !f.wasMember:
		// A restarted node hears from the leader before its Ready loop has
		// replayed the configuration changes of its log.
		return otellifecycle.RestartingState(), false
	case f.lead != raft.None:
		// A leader talks to this node, which is a learner or not (yet) in
		// its configuration: it is being added.
		return otellifecycle.JoiningState(f.attempt), false
	case f.sawLeader:
		if now.Sub(f.leaderLostAt) >= leaderless {
			return otellifecycle.FailedState(leaderlessReason(leaderless, f.lastLeader)), false
		}
		return otellifecycle.State{}, true
	case f.existing:
		return otellifecycle.RestartingState(), false
	case f.voter:
		return otellifecycle.BootstrappingState(), false
	default:
		return otellifecycle.JoiningState(f.attempt), false
	}
}

// leaderlessReason names the last leader (in hexadecimal, as etcd writes
// node IDs) and how long the node has been without one. It says "more
// than" the timeout rather than the exact time, so that the reason, and
// with it the state, is the same at every evaluation: one transition to
// Failed, not one per poll.
func leaderlessReason(timeout time.Duration, last uint64) string {
	return fmt.Sprintf("no leader for more than %v (last leader %x)", timeout, last)
}

// leaderlessDeadline is when derive will turn the facts into Failed if
// nothing changes, or the zero time when it will not.
func leaderlessDeadline(f *facts, leaderless time.Duration) time.Time {
	if f.lead != raft.None || !f.sawLeader {
		return time.Time{}
	}
	return f.leaderLostAt.Add(leaderless)
}
