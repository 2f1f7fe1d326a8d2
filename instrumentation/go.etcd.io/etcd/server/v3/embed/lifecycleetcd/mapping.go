package lifecycleetcd

import (
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Failure reasons of this module. They are part of the contract (alerts
// match them), like the tracker's Detail texts; the others are every Raft
// engine module's (engine.ReasonRemoved, engine.LeaderlessReason).
const (
	reasonStopped = "etcd server stopped"
	// reasonErrPrefix comes before the text of an error etcd reports
	// through Etcd.Err.
	reasonErrPrefix = "etcd: "
)

// facts is what the mapping looks at besides the service's
// engine.Intents: what the server reported. The Observer's engine.Driver
// keeps them, under its mutex, and derive turns them into a phase.
// Keeping the mapping a pure function of the facts is what makes it one
// table (the package documentation's).
type facts struct {
	// From the server, once, in Observe.
	restart    bool // the member had served before: its client URLs were in the data dir
	newCluster bool // started with InitialClusterState "new"

	// From the server, as last read.
	ready        bool     // ReadyNotify is closed: the member serves clients
	ending       bool     // StoppingNotify is closed: the server is stopping
	down         bool     // StopNotify is closed: the server has stopped, its last apply run
	lead         types.ID // 0 while no leader is known
	sawLeader    bool     // a leader was known at some point since Observe
	lastLeader   types.ID // the last leader known
	leaderLostAt time.Time
	member       bool // this member is in the cluster's membership
	learner      bool // … as a learner
	removed      bool // the cluster has removed this member's ID
	voters       int  // voting members
	learners     int  // learner members
	changes      int64
	err          string // the first error etcd reported through Etcd.Err
}

// derive returns the phase the facts and the service's intents mean, and
// hold = true when they mean "keep the phase as it is" (a leader election
// shorter than the leaderless timeout). The order of the cases is the
// precedence documented in the package documentation; keep the two in
// step.
func derive(f *facts, in *engine.Intents, now time.Time, leaderless time.Duration) (s otellifecycle.State, hold bool) {
	switch {
	case in.Stopping:
		return otellifecycle.StoppingState(), false
	case (f.ending || f.down) && in.Leaving:
		return otellifecycle.StoppingState(), false
	case f.down && f.removed:
		return otellifecycle.FailedState(engine.ReasonRemoved), false
	case f.down:
		return otellifecycle.FailedState(reasonStopped), false
	case in.Leaving:
		return otellifecycle.DrainingState(), false
	case in.Failed != "":
		return otellifecycle.FailedState(in.Failed), false
	case f.err != "":
		return otellifecycle.FailedState(reasonErrPrefix + f.err), false
	case f.removed:
		return otellifecycle.FailedState(engine.ReasonRemoved), false
	case f.learner:
		return otellifecycle.JoiningState(0), false
	case f.ready && f.lead != 0:
		return otellifecycle.ReadyState(f.voters), false
	case f.ready:
		if f.sawLeader && now.Sub(f.leaderLostAt) >= leaderless {
			// The last leader's member ID, as etcd writes it.
			return otellifecycle.FailedState(engine.LeaderlessReason(leaderless, f.lastLeader.String())), false
		}
		return otellifecycle.State{}, true
	case f.restart:
		return otellifecycle.RestartingState(), false
	case f.newCluster:
		return otellifecycle.BootstrappingState(), false
	default:
		return otellifecycle.JoiningState(0), false
	}
}

// leaderlessDeadline is when derive will turn the facts into Failed if
// nothing changes, or the zero time when it will not.
func leaderlessDeadline(f *facts, leaderless time.Duration) time.Time {
	if f.lead != 0 || !f.sawLeader || !f.ready {
		return time.Time{}
	}
	return f.leaderLostAt.Add(leaderless)
}
