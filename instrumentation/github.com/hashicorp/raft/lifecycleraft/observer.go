package lifecycleraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

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
	r     *raft.Raft
	t     *otellifecycle.Tracker
	self  raft.ServerID
	cfg   config
	mp    metric.MeterProvider // the Raft instruments' provider
	attrs []attribute.KeyValue // on every point of the Raft instruments

	ch   chan raft.Observation
	ro   *raft.Observer
	reg  metric.Registration
	done chan struct{} // closed by Close: the goroutine ends
	wg   sync.WaitGroup

	// gone ends with the first of Close, Shutdown and Leave (endJoins):
	// from then on no Join asks the cluster anything.
	gone     context.Context
	endJoins context.CancelFunc

	// mu guards f, closed and joinRunning. It is held only to copy or
	// update facts, never across a call into Raft or the tracker, so metric
	// collection never waits on either.
	mu          sync.Mutex
	f           facts
	closed      bool
	joinRunning bool

	// applyMu serializes derive-and-Set, so that applied is the state this
	// Observer last set and two evaluations never race each other's Set.
	applyMu sync.Mutex
	applied otellifecycle.State

	closeOnce    sync.Once
	closeErr     error
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
	if len(cfg.errs) > 0 {
		return nil, errors.Join(cfg.errs...)
	}
	o := &Observer{
		r:       r,
		t:       t,
		self:    self,
		cfg:     cfg,
		mp:      cfg.meterProvider,
		attrs:   append(t.Attributes(), cfg.attrs...),
		ch:      make(chan raft.Observation, observationBuffer),
		done:    make(chan struct{}),
		applied: t.Current(),
	}
	if o.mp == nil {
		o.mp = t.MeterProvider()
	}
	o.gone, o.endJoins = context.WithCancel(context.Background())
	var err error
	if o.reg, err = o.registerMetrics(); err != nil {
		return nil, fmt.Errorf("lifecycleraft: Observe: %w", err)
	}
	// Register before the first read, so no change falls between them.
	o.ro = raft.NewObserver(o.ch, false, relevant)
	r.RegisterObserver(o.ro)
	o.f.existing = r.LastIndex() > 0
	o.refresh()
	o.evaluate(context.Background())
	o.wg.Add(1)
	go o.run()
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
	o.closeOnce.Do(func() {
		o.endJoins()
		o.r.DeregisterObserver(o.ro)
		// Under applyMu, so that an evaluation in progress finishes its
		// Set before Close returns, and none starts after it.
		o.applyMu.Lock()
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		o.applyMu.Unlock()
		close(o.done)
		o.wg.Wait()
		if err := o.reg.Unregister(); err != nil {
			o.closeErr = fmt.Errorf("lifecycleraft: Close: %w", err)
		}
	})
	return o.closeErr
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
		case <-tick.C:
		case <-deadline.C:
		}
		o.refresh()
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
		// A member with a leader has joined, whoever added it: a Join
		// intent ends, and an earlier Join's failure is history.
		f.joining, f.joinFailed = false, ""
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
	s := derive(&o.f, time.Now(), o.cfg.leaderless)
	o.mu.Unlock()
	if s == o.applied {
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
