package lifecycleraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// ScopeName is the instrumentation scope of the Observer's meter.
const ScopeName = "github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"

// Version is the version of this module, reported with ScopeName. The
// modules of this repository are released together, so it is
// otellifecycle's.
const Version = otellifecycle.Version

// ErrClosed is what Join returns once the node is going away: after Close,
// Shutdown or Leave, and for a Join those interrupt. Such a Join asks
// nothing more of the cluster, so a retry in flight never adds back a node
// that is leaving or gone. Leave returns it after Shutdown.
var ErrClosed = errors.New("lifecycleraft: the Observer is closed, shut down or leaving")

// observationBuffer is the capacity of the channel Raft sends observations
// to. Raft never waits on it: a full channel drops the observation (counted
// in Stats), and the next poll catches up with the state it described.
const observationBuffer = 32

// Observer drives an otellifecycle.Tracker from one Raft node. It is made by
// Observe and ended by Close (or Shutdown). Its methods are safe for
// concurrent use.
type Observer struct {
	r    *raft.Raft
	self raft.ServerID
	cfg  engine.Config
	// d keeps the facts and the service's intents, moves the tracker to
	// the phase they mean and runs the Observer's goroutine.
	d *engine.Driver[facts]

	ch  chan raft.Observation
	ro  *raft.Observer
	reg metric.Registration

	shutdownOnce sync.Once
	shutdownErr  error
}

// Stats counts what Raft sent the Observer and what it had to drop.
type Stats struct {
	Observed uint64 // observations Raft delivered to the Observer's channel
	Dropped  uint64 // observations Raft dropped because the channel was full
}

// Observe attaches an Observer to r, the Raft node whose server ID is
// self (its raft.Config's LocalID: Raft does not expose it), and starts
// driving t from what r reports. Call it before bootstrapping or joining,
// right after raft.NewRaft: it reads r's state on the spot, so a node with
// a Raft log or snapshot shows Restarting, a fresh one Starting (see the
// package documentation for the whole mapping). From then on the Observer
// owns t's phase: the service calls the Observer's methods, not t's To*.
//
// The Observer never blocks r: Raft's observations go through a bounded
// channel that Raft fills without waiting (drops are counted in Stats), and
// the Observer re-reads Raft's state on every observation and every
// WithPollInterval. It registers the Raft instruments on t's MeterProvider
// with t's attributes, unless WithMeterProvider and WithAttributes say
// otherwise.
//
// Observe returns an error, and attaches nothing, when r or t is nil, self
// is empty, an option is invalid (the error names it) or the instruments
// cannot be registered. Close the Observer (or call Shutdown) before
// closing t.
func Observe(r *raft.Raft, t *otellifecycle.Tracker, self raft.ServerID, opts ...Option) (*Observer, error) {
	switch {
	case r == nil:
		return nil, errors.New("lifecycleraft: Observe: raft is nil")
	case t == nil:
		return nil, errors.New("lifecycleraft: Observe: tracker is nil")
	case self == "":
		return nil, errors.New("lifecycleraft: Observe: self, the node's server ID, is empty")
	}
	cfg := newConfig(opts)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	o := &Observer{
		r:    r,
		self: self,
		cfg:  cfg,
		d:    engine.NewDriver(t, cfg, ErrClosed, engine.Mapping[facts]{Derive: derive, Deadline: leaderlessDeadline}),
		ch:   make(chan raft.Observation, observationBuffer),
	}
	var err error
	if o.reg, err = o.registerMetrics(t); err != nil {
		return nil, fmt.Errorf("lifecycleraft: Observe: %w", err)
	}
	// Register before the first read, so no change falls between them.
	o.ro = raft.NewObserver(o.ch, false, relevant)
	r.RegisterObserver(o.ro)
	existing := r.LastIndex() > 0
	o.d.Change(func(f *facts, _ *engine.Intents) { f.existing = existing })
	o.refresh()
	o.d.Evaluate(context.Background())
	o.d.Go(o.run)
	return o, nil
}

// relevant keeps the observations that bear on this node's phase. It runs
// on Raft's goroutines, so it is one type switch and nothing more.
//
// Vote requests are left out, and so are Failed/ResumedHeartbeatObservation:
// they are the leader's view of one follower, they come every heartbeat
// while a follower is down, and they would crowd the bounded channel out of
// the observations that matter. A leader that cannot reach a quorum steps
// down within LeaderLeaseTimeout, and that is observed as a lost leader.
func relevant(o *raft.Observation) bool {
	switch o.Data.(type) {
	case raft.RaftState, raft.LeaderObservation, raft.PeerObservation:
		return true
	}
	return false
}

// Stats returns the Observer's counters, as Raft keeps them.
func (o *Observer) Stats() Stats {
	return Stats{Observed: o.ro.GetNumObserved(), Dropped: o.ro.GetNumDropped()}
}

// Close detaches the Observer: it ends a running Join (which returns
// ErrClosed), deregisters from Raft, stops its goroutine and unregisters
// the Raft instruments. It changes neither the tracker's phase nor Raft:
// once it returns, the Observer moves the tracker no more. Close is
// idempotent and safe to call concurrently with every method; every call
// returns the first one's result, an error only when the instruments could
// not be unregistered.
func (o *Observer) Close() error {
	o.r.DeregisterObserver(o.ro) // a no-op once done
	return o.d.Close(o.reg)
}

// run is the Observer's one goroutine: it turns observations, poll ticks
// and the leaderless deadline into evaluations.
func (o *Observer) run() {
	clock := engine.NewClock(o.cfg.PollInterval)
	defer clock.Stop()
	for {
		select {
		case <-o.d.Done():
			return
		case ob := <-o.ch:
			o.note(ob)
			for more := true; more; {
				select {
				case ob := <-o.ch:
					o.note(ob)
				default:
					more = false
				}
			}
		case <-clock.Poll():
		case <-clock.Deadline():
		}
		o.refresh()
		o.d.Evaluate(context.Background())
		clock.Arm(o.d.Deadline())
	}
}

// note records what an observation itself says; the state it describes is
// re-read by refresh, since a later one may already have replaced it.
func (o *Observer) note(ob raft.Observation) {
	if l, ok := ob.Data.(raft.LeaderObservation); ok && l.LeaderID != "" {
		o.d.Change(func(f *facts, _ *engine.Intents) { f.elected++ })
	}
}

// refresh reads Raft's state, leader and latest configuration into the
// facts. Each is read under Raft's own short locks (the configuration is
// the copy Raft keeps for readers), never through Raft's main loop, and
// each can still be read after Raft shut down: the configuration a node
// had when it stopped says whether it had been removed.
func (o *Observer) refresh() {
	state := o.r.State()
	_, leader := o.r.LeaderWithID()
	var servers []raft.Server
	fut := o.r.GetConfiguration()
	read := fut.Error() == nil
	if read {
		servers = fut.Configuration().Servers
	}
	now := time.Now()

	o.d.Change(func(f *facts, in *engine.Intents) {
		// Shutdown is for good: a shut-down *raft.Raft never runs again.
		// Raft's State can still read Follower after it, when its main loop
		// handles one last AppendEntries (which sets Follower) before it
		// sees the shutdown.
		if f.state != raft.Shutdown {
			f.state = state
		}
		switch {
		case leader != "":
			f.sawLeader, f.lastLeader = true, leader
		case f.leader != "":
			f.leaderLostAt = now
		}
		f.leader = leader
		if read {
			f.member, f.voters, f.nonvoters = false, 0, 0
			for _, s := range servers {
				if s.ID == o.self {
					f.member = true
				}
				if s.Suffrage == raft.Voter {
					f.voters++
				} else {
					f.nonvoters++
				}
			}
			f.wasMember = f.wasMember || f.member
		}
		if joined(f) {
			// A member with a leader has joined, whoever added it: a Join
			// intent ends, and an earlier Join's failure is history.
			in.Joining, in.JoinFailed = false, ""
		}
	})
}
