package lifecycleetcdraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// ScopeName is the instrumentation scope of the Observer's meter. The
// meter's version is otellifecycle.Version: the modules are released
// together.
const ScopeName = "github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"

// ErrClosed is what Join returns once the node is going away: after Close,
// Shutdown or Leave, and for a Join those interrupt. Such a Join asks
// nothing more of the cluster, so a retry in flight never adds back a node
// that is leaving or gone. Leave returns it after Shutdown.
var ErrClosed = errors.New("lifecycleetcdraft: the Observer is closed, shut down or leaving")

// Observer drives an otellifecycle.Tracker from one etcd Raft node. It is
// made by Observe and ended by Close (or Shutdown). Its methods are safe
// for concurrent use.
type Observer struct {
	n   raft.Node
	cfg engine.Config
	// d keeps the facts and the service's intents, moves the tracker to
	// the phase they mean and runs the Observer's goroutine.
	d   *engine.Driver[facts]
	reg metric.Registration

	// wake is the one-slot, latest-value-wins signal from Ready to the
	// Observer's goroutine: a signal that finds one pending is merged
	// into it, since one Status read answers both.
	wake chan struct{}

	reads, signals, merged atomic.Uint64

	shutdownOnce sync.Once
	shutdownErr  error
}

// Stats counts the Observer's reads of the node and the signals its Ready
// method gave.
type Stats struct {
	Reads   uint64 // Status reads: in Observe, on every signal and poll, in the helpers
	Signals uint64 // Ready calls that asked for a read (a new leader or role, a configuration change)
	Merged  uint64 // of those, signals that found one pending and were answered by its read
}

// Observe attaches an Observer to the etcd Raft node n, whose log is in
// storage, and starts driving t from what n reports. Call it right after
// raft.StartNode or raft.RestartNode, before the service's Ready loop
// handles its first Ready: Observe reads storage on the spot to tell a
// restart (a log with entries: Restarting) from a new node (Bootstrapping
// when StartNode listed it among the peers, Joining otherwise). See the
// package documentation for the whole mapping.
//
// The Observer never blocks n: it reads n.Status from a goroutine of its
// own, every WithPollInterval and whenever Observer.Ready signals a change,
// and Ready itself only looks at the Ready it is given. Observe also
// registers the Raft instruments on the tracker's MeterProvider (or
// WithMeterProvider's), with the tracker's attributes.
//
// Observe returns an error, and attaches nothing, when n, storage or t is
// nil, an option is invalid (the error names it), storage cannot tell its
// last index, n is stopped already, or the instruments cannot be
// registered. From then on the Observer owns t's phase: the service calls
// the Observer's methods, not t's To*. Close the Observer (or call
// Shutdown) before closing t.
func Observe(n raft.Node, storage raft.Storage, t *otellifecycle.Tracker, opts ...Option) (*Observer, error) {
	switch {
	case n == nil:
		return nil, errors.New("lifecycleetcdraft: Observe: node is nil")
	case storage == nil:
		return nil, errors.New("lifecycleetcdraft: Observe: storage is nil")
	case t == nil:
		return nil, errors.New("lifecycleetcdraft: Observe: tracker is nil")
	}
	cfg := newConfig(opts)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	last, err := storage.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("lifecycleetcdraft: Observe: the storage's last index: %w", err)
	}
	o := &Observer{
		n:    n,
		cfg:  cfg,
		d:    engine.NewDriver(t, cfg, ErrClosed, engine.Mapping[facts]{Derive: derive, Deadline: leaderlessDeadline}),
		wake: make(chan struct{}, 1),
	}
	o.d.Change(func(f *facts, _ *engine.Intents) { f.existing = last > 0 })
	o.refresh()
	if o.d.Facts().stopped {
		return nil, errors.New("lifecycleetcdraft: Observe: the node is stopped")
	}
	if o.reg, err = o.registerMetrics(t); err != nil {
		return nil, fmt.Errorf("lifecycleetcdraft: Observe: registering the Raft instruments: %w", err)
	}
	o.d.Evaluate(context.Background())
	o.d.Go(o.run)
	return o, nil
}

// Ready tells the Observer about a Ready the service's loop received from
// the node. It is optional: without it, the Observer sees every change
// within WithPollInterval; with it, a new leader, a lost leader, a new role
// and a configuration change are read at once, and the leader changes are
// counted as they happen. Call it once per Ready, after the Ready's
// committed entries are applied (ApplyConfChange included) and before
// Advance, so that the read it prompts sees the new configuration.
//
// Ready never blocks and never calls the node or the tracker: it checks
// whether rd holds a SoftState or a configuration change entry and, if so,
// signals the Observer's goroutine without waiting (a signal that finds
// one pending is merged into it and counted in Stats). It costs a few
// nanoseconds per Ready and about one more per committed entry (see the
// package documentation). After Close, nothing answers its signals.
func (o *Observer) Ready(rd raft.Ready) {
	if rd.SoftState == nil && !hasConfChange(rd) {
		return
	}
	o.signals.Add(1)
	select {
	case o.wake <- struct{}{}:
	default:
		o.merged.Add(1)
	}
}

// hasConfChange says whether rd commits a configuration change. The entry
// is read through entryType, which takes the entry's type as raft v3.6 (a
// value) and v3.7 (a pointer) declare it.
func hasConfChange(rd raft.Ready) bool {
	for i := range rd.CommittedEntries {
		if isConfChange(rd.CommittedEntries[i].Type) {
			return true
		}
	}
	return false
}

// Stats returns the Observer's counters. Each is read atomically; together
// they are not one snapshot.
func (o *Observer) Stats() Stats {
	return Stats{Reads: o.reads.Load(), Signals: o.signals.Load(), Merged: o.merged.Load()}
}

// Close detaches the Observer: it ends a running Join (which returns
// ErrClosed), stops its goroutine and unregisters the Raft instruments. It
// changes neither the tracker's phase nor the node: once it returns, the
// Observer moves the tracker no more. Close is
// idempotent and safe to call concurrently with every method; every call
// returns the first one's result, an error only when the instruments could
// not be unregistered.
func (o *Observer) Close() error {
	return o.d.Close(o.reg)
}

// run is the Observer's one goroutine: it turns signals, poll ticks and
// the leaderless deadline into reads and evaluations.
func (o *Observer) run() {
	clock := engine.NewClock(o.cfg.PollInterval)
	defer clock.Stop()
	for {
		select {
		case <-o.d.Done():
			return
		case <-o.wake:
		case <-clock.Poll():
		case <-clock.Deadline():
		}
		o.refresh()
		o.d.Evaluate(context.Background())
		clock.Arm(o.d.Deadline())
	}
}

// refresh reads the node's Status into the facts. Status is answered by
// the node's own goroutine between its other work (a copy of its
// configuration, and of its followers' progress on a leader); a stopped
// node answers at once, with an empty Status.
func (o *Observer) refresh() {
	st := o.n.Status()
	o.reads.Add(1)
	now := time.Now()
	o.d.Change(func(f *facts, in *engine.Intents) {
		if st.ID == raft.None {
			// Only a stopped node has no ID, and a stopped node never runs
			// again. Its configuration is kept as last read.
			if f.lead != raft.None {
				f.leaderLostAt = now
			}
			f.stopped, f.role, f.lead = true, raft.StateFollower, raft.None
			return
		}
		if f.stopped {
			return
		}
		// A leader change, as etcd counts them (etcd_server_leader_changes_seen_total):
		// a leader that is not the one known before, after another or after none.
		if st.Lead != raft.None && st.Lead != f.lead {
			f.changes++
		}
		switch {
		case st.Lead != raft.None:
			f.sawLeader, f.lastLeader = true, st.Lead
		case f.lead != raft.None:
			f.leaderLostAt = now
		}
		f.role, f.lead = st.RaftState, st.Lead

		voters := st.Config.Voters.IDs()
		_, f.voter = voters[st.ID]
		_, learner := st.Config.Learners[st.ID]
		_, next := st.Config.LearnersNext[st.ID]
		f.learner = !f.voter && (learner || next)
		f.wasMember = f.wasMember || f.voter || f.learner
		f.voters = len(voters)
		f.learners = len(st.Config.Learners) + len(st.Config.LearnersNext)
		if joined(f) {
			in.Joining = false // joined: a Join intent ends with a vote
		}
	})
}
