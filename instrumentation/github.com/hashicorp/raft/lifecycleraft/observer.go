package lifecycleraft

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// ScopeName is the instrumentation scope of the Observer's meter.
const ScopeName = "github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"

// Version is the version of this module, reported with ScopeName.
const Version = "0.1.0"

// observationBuffer is the capacity of the channel Raft sends observations
// to. Raft never waits on it: a full channel drops the observation (counted
// in Stats), and the next poll catches up with the state it described.
const observationBuffer = 32

// Observer drives an otellifecycle.Tracker from one Raft node. It is made by
// Observe and ended by Close (or Shutdown). Its methods are safe for
// concurrent use.
type Observer struct {
	r    *raft.Raft
	t    *otellifecycle.Tracker
	self raft.ServerID
	cfg  config

	ch   chan raft.Observation
	ro   *raft.Observer
	reg  metric.Registration
	done chan struct{}
	wg   sync.WaitGroup

	// mu guards f and closed. It is held only to copy or update facts,
	// never across a call into Raft or the tracker, so metric collection
	// never waits on either.
	mu     sync.Mutex
	f      facts
	closed bool

	// applyMu serializes derive-and-Set, so that applied is the state this
	// Observer last set and two evaluations never race each other's Set.
	applyMu sync.Mutex
	applied otellifecycle.State

	closeOnce sync.Once
}

// Stats counts what Raft sent the Observer and what it had to drop.
type Stats struct {
	Observed uint64 // observations Raft delivered to the Observer's channel
	Dropped  uint64 // observations Raft dropped because the channel was full
}

// Observe attaches an Observer to r, the Raft node whose server ID is
// self (its raft.Config's LocalID: Raft does not expose it), and starts
// driving t from what r reports. Call it right after raft.NewRaft, before
// bootstrapping or joining: it reads r's state on the spot, so a node with
// a Raft log or snapshot shows Restarting, a fresh one Starting (see the
// package documentation for the whole mapping).
//
// The Observer never blocks r: Raft's observations go through a bounded
// channel that Raft fills without waiting (drops are counted in Stats), and
// the Observer re-reads Raft's state on every observation and every
// WithPollInterval. It also registers the Raft instruments on the
// WithMeterProvider meter; a registration error is reported through
// otel.Handle and leaves the phases working.
//
// r and t must not be nil. Close the Observer (or call Shutdown) before
// closing t.
func Observe(r *raft.Raft, t *otellifecycle.Tracker, self raft.ServerID, opts ...Option) *Observer {
	if r == nil || t == nil {
		panic("lifecycleraft: Observe needs a *raft.Raft and an *otellifecycle.Tracker")
	}
	o := &Observer{
		r:       r,
		t:       t,
		self:    self,
		cfg:     newConfig(opts),
		ch:      make(chan raft.Observation, observationBuffer),
		done:    make(chan struct{}),
		applied: t.Current(),
	}
	// Register before the first read, so no change falls between them.
	o.ro = raft.NewObserver(o.ch, false, relevant)
	r.RegisterObserver(o.ro)
	o.f.existing = r.LastIndex() > 0
	o.refresh(true)
	o.evaluate(context.Background())
	o.reg = o.registerMetrics()
	o.wg.Add(1)
	go o.run()
	return o
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

// Close detaches the Observer: it deregisters from Raft, stops its
// goroutine and unregisters the Raft instruments. It does not change the
// tracker's phase, nor Raft. Close is idempotent.
func (o *Observer) Close() {
	o.closeOnce.Do(func() {
		o.r.DeregisterObserver(o.ro)
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		close(o.done)
		o.wg.Wait()
		if o.reg != nil {
			_ = o.reg.Unregister()
		}
	})
}

// run is the Observer's one goroutine: it turns observations, poll ticks
// and the leaderless deadline into evaluations.
func (o *Observer) run() {
	defer o.wg.Done()
	tick := time.NewTicker(o.cfg.poll)
	defer tick.Stop()
	deadline := time.NewTimer(time.Hour)
	deadline.Stop()
	defer deadline.Stop()
	for {
		select {
		case <-o.done:
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
			o.refresh(true)
		case <-tick.C:
			o.refresh(true)
		case <-deadline.C:
			o.refresh(false)
		}
		o.evaluate(context.Background())

		o.mu.Lock()
		at := leaderlessDeadline(&o.f, o.cfg.leaderless)
		o.mu.Unlock()
		// Arm the deadline only while it is ahead: once it has passed, this
		// evaluation has already turned it into Failed.
		deadline.Stop()
		if wait := time.Until(at); !at.IsZero() && wait > 0 {
			deadline.Reset(wait)
		}
	}
}

// note records what an observation itself says; the state it describes is
// re-read by refresh, since a later one may already have replaced it.
func (o *Observer) note(ob raft.Observation) {
	if l, ok := ob.Data.(raft.LeaderObservation); ok && l.LeaderID != "" {
		o.mu.Lock()
		o.f.elected++
		o.mu.Unlock()
	}
}

// refresh reads Raft's state, leader and (with config) latest
// configuration into the facts. Raft's state and leader are read under
// Raft's own short locks; the configuration takes a round trip through
// Raft's main loop, which answers it between its other work, and fails at
// once when Raft is shut down (the last configuration read is kept).
func (o *Observer) refresh(config bool) {
	state := o.r.State()
	_, leader := o.r.LeaderWithID()
	var servers []raft.Server
	read := false
	if config && state != raft.Shutdown {
		if fut := o.r.GetConfiguration(); fut.Error() == nil {
			servers, read = fut.Configuration().Servers, true
		}
	}
	now := time.Now()

	o.mu.Lock()
	defer o.mu.Unlock()
	f := &o.f
	// Shutdown is for good: a shut-down *raft.Raft never runs again. Raft's
	// State can still read Follower after it, when its main loop handles one
	// last AppendEntries (which sets Follower) before it sees the shutdown.
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
	if f.leader != "" && f.member {
		f.joining = false // joined: a Join intent ends with membership
	}
}

// evaluate derives the phase from the facts and moves the tracker there
// if it is not where this Observer last put it. ctx is the transition's
// context (the caller's, for the helpers).
func (o *Observer) evaluate(ctx context.Context) {
	o.applyMu.Lock()
	defer o.applyMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	s, hold := derive(&o.f, time.Now(), o.cfg.leaderless)
	o.mu.Unlock()
	if hold || s == o.applied {
		return
	}
	// The tracker reports its own errors (a policy's rejection, a closed
	// tracker) through otel.Handle; whatever it said, this is the state
	// asked for, and asking again at every poll would only repeat them.
	_ = o.t.Set(ctx, s)
	o.applied = s
}

// update changes the facts under the mutex, then evaluates.
func (o *Observer) update(ctx context.Context, change func(f *facts)) {
	o.mu.Lock()
	change(&o.f)
	o.mu.Unlock()
	o.evaluate(ctx)
}
