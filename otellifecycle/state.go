package otellifecycle

import (
	"errors"
	"fmt"
	"strconv"
)

// Phase names a phase of a node's cluster lifecycle. Its value is the
// phase's label: the `state` attribute of the state gauge, the "phase" of
// the JSON form, the text operators match on. Labels never change.
type Phase string

// The phases, in the stable order of [Phases]. The first six are those of
// the Rust tracker this package descends from, in its order.
const (
	// Starting: the process is up and has not yet decided how to join a
	// cluster. Every Tracker starts here.
	Starting Phase = "starting"
	// Restarting: the process restarted and is loading its local catalog
	// (not a reload of configuration).
	Restarting Phase = "restarting"
	// Bootstrapping: this node is forming a new cluster.
	Bootstrapping Phase = "bootstrapping"
	// Joining: this node is joining an existing cluster; the State's
	// Attempt counts tries from 0.
	Joining Phase = "joining"
	// Ready: the node is a serving member; the State's Nodes is the
	// cluster's size as this node sees it.
	Ready Phase = "ready"
	// Draining: the node is handing off work before it stops.
	Draining Phase = "draining"
	// Stopping: the node is shutting down.
	Stopping Phase = "stopping"
	// Failed: the lifecycle hit an error; the State's Reason says which.
	// Failed is not terminal: an operator may force a bootstrap or a new
	// join after it.
	Failed Phase = "failed"
)

var phases = [...]Phase{Starting, Restarting, Bootstrapping, Joining, Ready, Draining, Stopping, Failed}

// numPhases is the number of phases; a state's index is below it.
const numPhases = len(phases)

// Phases returns every phase in the stable order, in a new slice.
func Phases() []Phase { return append([]Phase(nil), phases[:]...) }

// AllLabels returns the label of every phase, in the order of [Phases], in a
// new slice: the values the state gauge's label takes (all_labels of the
// Rust tracker this package descends from). Use it to build label sets and dashboards; use Phases to
// switch on phases in code.
func AllLabels() []string {
	out := make([]string, numPhases)
	for i, p := range phases {
		out[i] = string(p)
	}
	return out
}

// index returns p's position in [Phases], or -1 for an unknown phase.
func (p Phase) index() int {
	switch p {
	case Starting:
		return 0
	case Restarting:
		return 1
	case Bootstrapping:
		return 2
	case Joining:
		return 3
	case Ready:
		return 4
	case Draining:
		return 5
	case Stopping:
		return 6
	case Failed:
		return 7
	}
	return -1
}

// State is one phase with its payload: Attempt for Joining, Nodes for Ready,
// Reason for Failed; the other fields are zero. It is a small comparable
// value, safe to copy and compare with ==.
type State struct {
	Phase   Phase
	Attempt uint32 // Joining only: the join attempt, counted from 0
	Nodes   int    // Ready only: the number of nodes in the cluster
	Reason  string // Failed only: why, normalized (see MaxReasonBytes)
}

// StartingState returns the Starting state.
func StartingState() State { return State{Phase: Starting} }

// RestartingState returns the Restarting state.
func RestartingState() State { return State{Phase: Restarting} }

// BootstrappingState returns the Bootstrapping state.
func BootstrappingState() State { return State{Phase: Bootstrapping} }

// JoiningState returns the Joining state for the given attempt (from 0).
func JoiningState(attempt uint32) State { return State{Phase: Joining, Attempt: attempt} }

// ReadyState returns the Ready state for a cluster of nodes nodes; a
// negative count is taken as 0.
func ReadyState(nodes int) State { return State{Phase: Ready, Nodes: max(nodes, 0)} }

// DrainingState returns the Draining state.
func DrainingState() State { return State{Phase: Draining} }

// StoppingState returns the Stopping state.
func StoppingState() State { return State{Phase: Stopping} }

// FailedState returns the Failed state with reason normalized: see
// [MaxReasonBytes] for what that does to untrusted text.
func FailedState(reason string) State {
	return State{Phase: Failed, Reason: NormalizeReason(reason)}
}

// Label returns the phase's label, e.g. "joining".
func (s State) Label() string { return string(s.Phase) }

// IsReady reports whether the phase is Ready, and nothing else is.
func (s State) IsReady() bool { return s.Phase == Ready }

// Detail returns the human text for the state, the log `detail` and
// systemd `STATUS=` text of the Rust tracker this package descends from: "starting", "restart", "bootstrapping new
// cluster", "joining cluster (attempt N)", "ready (N nodes)", "draining",
// "stopping", "failed: <reason>". An unknown phase yields its label.
func (s State) Detail() string {
	switch s.Phase {
	case Starting:
		return "starting"
	case Restarting:
		return "restart"
	case Bootstrapping:
		return "bootstrapping new cluster"
	case Joining:
		if int(s.Attempt) < len(joiningDetails) {
			return joiningDetails[s.Attempt]
		}
		return "joining cluster (attempt " + strconv.FormatUint(uint64(s.Attempt), 10) + ")"
	case Ready:
		if s.Nodes >= 0 && s.Nodes < len(readyDetails) {
			return readyDetails[s.Nodes]
		}
		return "ready (" + strconv.Itoa(s.Nodes) + " nodes)"
	case Draining:
		return "draining"
	case Stopping:
		return "stopping"
	case Failed:
		return "failed: " + s.Reason
	}
	return string(s.Phase)
}

// The Detail texts of the common payloads are built once, so most
// transitions allocate no text.
var joiningDetails, readyDetails = func() (j [32]string, r [128]string) {
	for i := range j {
		j[i] = "joining cluster (attempt " + strconv.Itoa(i) + ")"
	}
	for i := range r {
		r[i] = "ready (" + strconv.Itoa(i) + " nodes)"
	}
	return j, r
}()

// String implements fmt.Stringer with [State.Detail], so that %v prints
// what systemd and the log show; code should call Detail.
func (s State) String() string { return s.Detail() }

// Validate reports whether s is a state the tracker can hold: a known
// phase, a payload only in the field that phase uses, and Nodes ≥ 0.
func (s State) Validate() error {
	if s.Phase.index() < 0 {
		return fmt.Errorf("otellifecycle: unknown phase %q (want one of %v)", s.Phase, phases)
	}
	if s.Attempt != 0 && s.Phase != Joining {
		return fmt.Errorf(`otellifecycle: phase %q takes no "attempt"`, s.Phase)
	}
	if s.Nodes != 0 && s.Phase != Ready {
		return fmt.Errorf(`otellifecycle: phase %q takes no "nodes"`, s.Phase)
	}
	if s.Reason != "" && s.Phase != Failed {
		return fmt.Errorf(`otellifecycle: phase %q takes no "reason"`, s.Phase)
	}
	if s.Nodes < 0 {
		return fmt.Errorf(`otellifecycle: "nodes" must be ≥ 0, got %d`, s.Nodes)
	}
	return nil
}

// errNotState is wrapped by every error of State.UnmarshalJSON.
var errNotState = errors.New("otellifecycle: not a lifecycle state")
