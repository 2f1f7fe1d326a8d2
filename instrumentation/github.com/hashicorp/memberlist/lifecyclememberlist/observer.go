package lifecyclememberlist

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// mode is what the Observer believes the node is doing. It decides what a
// membership event or a health reading does to the tracker (see the
// package doc's mapping); it changes only under Observer.mu.
type mode uint8

const (
	idle       mode = iota // created; Join not called yet: events are counted only
	joining                // a Join is running: it alone moves the tracker
	member                 // Ready: events move Ready{alive}, health may fail it
	joinFailed             // Failed by Join: another member joining brings it back
	unhealthy              // Failed by health: a better score brings it back
	draining               // left: nothing brings it back
	stopping               // shut down: nothing brings it back
)

// ErrClosed is what Join returns once the node is going away: after Close,
// Shutdown or Leave, and for a Join those interrupt. Such a Join asks
// memberlist nothing more, so a retry in flight never joins back a node
// that is leaving or gone. Leave returns it after Shutdown (memberlist
// itself would panic).
var ErrClosed = errors.New("lifecyclememberlist: the Observer is closed, shut down or leaving")

// Observer drives one Tracker from one memberlist node. Its methods are safe
// for concurrent use.
type Observer struct {
	t    *otellifecycle.Tracker
	cfg  config
	ml   *memberlist.Memberlist
	self string // this node's name, to tell its own leave

	// Membership as the events report it. evMu guards only these and is
	// never held while anything else is done: memberlist holds its member
	// map's lock while it calls the event delegate.
	evMu     sync.Mutex
	alive    map[string]struct{}
	selfLeft bool

	joins, leaves, updates, coalesced atomic.Uint64

	// engMu serializes memberlist's Leave and Shutdown, and guards shut:
	// memberlist panics on a Leave after its Shutdown, and a Leave waits
	// for its message to go out (up to its timeout) before it returns.
	// Lock order: engMu, then mu, then evMu.
	engMu sync.Mutex
	shut  bool // memberlist's Shutdown was called through the Observer

	// mu serializes every move of the tracker and guards the fields below,
	// so transitions reach the tracker in the order they were decided.
	mu         sync.Mutex
	mode       mode
	worst      int       // the worst health score; 0: the check is off
	worstSince time.Time // since when the score has been at its worst; zero: it is not

	closed   atomic.Bool        // set under mu: the tracker is no longer moved
	kick     chan struct{}      // one slot: membership changed since the goroutine last looked
	done     chan struct{}      // closed by Close
	stopped  chan struct{}      // closed when the goroutine ends
	gone     context.Context    // ends with the first of Close, Shutdown and Leave: Join ends
	endJoins context.CancelFunc // ends gone

	closeOnce    sync.Once
	shutdownOnce sync.Once
	shutdownErr  error
}

// Create creates a memberlist node from a copy of conf, the way
// memberlist.Create does, and returns the Observer that drives t from it.
// The copy's Events is a wrapper that forwards every event to conf.Events, if
// any, after recording it (see the package doc); conf itself is not changed,
// so read the bound address from Memberlist().LocalNode().
//
// The tracker is not moved until Join (see the mapping in the package doc),
// except when memberlist.Create fails: then the tracker is Failed and the
// error is returned. Invalid options are an error that names the option,
// and neither create a memberlist nor move the tracker.
//
// The Observer runs one goroutine; Shutdown or Close stops it.
func Create(conf *memberlist.Config, t *otellifecycle.Tracker, opts ...Option) (*Observer, error) {
	if conf == nil {
		return nil, errors.New("lifecyclememberlist: Create: conf is nil")
	}
	if t == nil {
		return nil, errors.New("lifecyclememberlist: Create: tracker is nil")
	}
	cfg := newConfig(opts)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	o := &Observer{
		t:       t,
		cfg:     cfg,
		self:    conf.Name,
		alive:   make(map[string]struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	o.gone, o.endJoins = context.WithCancel(context.Background())
	if cfg.healthTimeout > 0 && conf.AwarenessMaxMultiplier > 1 {
		o.worst = conf.AwarenessMaxMultiplier - 1
	}
	c := *conf
	c.Events = &events{o: o, next: conf.Events}
	ml, err := memberlist.Create(&c)
	if err != nil {
		err = fmt.Errorf("create memberlist: %w", err)
		_ = t.Set(context.Background(), otellifecycle.FailedState(err.Error()))
		return nil, fmt.Errorf("lifecyclememberlist: %w", err)
	}
	o.ml = ml
	go o.run()
	return o, nil
}

// Memberlist returns the node, for everything the Observer does not wrap
// (Members, LocalNode, SendReliable, UpdateNode …). Use the Observer's Join,
// Leave and Shutdown rather than the node's, so that the tracker follows.
func (o *Observer) Memberlist() *memberlist.Memberlist { return o.ml }

// Stats counts what the Observer saw, and what it let go.
type Stats struct {
	Joins     uint64 // NotifyJoin events (this node's own included)
	Leaves    uint64 // NotifyLeave events
	Updates   uint64 // NotifyUpdate events
	Coalesced uint64 // membership changes applied together with an earlier one, whose Ready{n} the tracker may skip
}

// Stats returns the counters. Each is read atomically; together they are
// not one snapshot.
func (o *Observer) Stats() Stats {
	return Stats{
		Joins:     o.joins.Load(),
		Leaves:    o.leaves.Load(),
		Updates:   o.updates.Load(),
		Coalesced: o.coalesced.Load(),
	}
}

// Leave moves the tracker to Draining (unless the Observer is closed) and
// ends a running Join, then leaves the cluster with memberlist's
// Leave(timeout) and returns its error: the node stays Draining whether the
// leave message went out in time or not. After Shutdown it does nothing and
// returns ErrClosed (memberlist itself panics on a Leave after its
// Shutdown); a Shutdown that comes during a Leave waits for it, at most its
// timeout.
func (o *Observer) Leave(timeout time.Duration) error {
	o.engMu.Lock()
	defer o.engMu.Unlock()
	if o.shut {
		return ErrClosed
	}
	o.endJoins()
	o.mu.Lock()
	if o.mode != stopping {
		o.enter(context.Background(), draining, otellifecycle.DrainingState())
	}
	o.mu.Unlock()
	return o.ml.Leave(timeout)
}

// Shutdown ends a running Join, moves the tracker to Stopping (unless the
// Observer is closed), shuts the memberlist node down (without a leave
// message: call Leave first to leave gracefully) and closes the Observer.
// It returns memberlist's error. Shutdown is idempotent and safe to call
// concurrently with every method; every call returns the first one's
// result.
func (o *Observer) Shutdown() error {
	o.shutdownOnce.Do(func() {
		o.endJoins()
		o.engMu.Lock()
		o.mu.Lock()
		o.enter(context.Background(), stopping, otellifecycle.StoppingState())
		o.mu.Unlock()
		o.shut = true
		err := o.ml.Shutdown()
		o.engMu.Unlock()
		if err != nil {
			err = fmt.Errorf("lifecyclememberlist: Shutdown: %w", err)
		}
		o.shutdownErr = errors.Join(err, o.Close())
	})
	return o.shutdownErr
}

// Close ends a running Join (which returns ErrClosed), stops the Observer's
// goroutine and its health check, and waits for it. From then on the
// tracker is not moved, while the wrapper still forwards every event to the
// caller's delegate. Close leaves memberlist running; Shutdown stops both.
// Close is idempotent and safe to call concurrently with every method; it
// returns nil, as the Observer holds nothing that can fail to close (the
// error is there for the contract every engine module of this repository
// follows).
func (o *Observer) Close() error {
	o.closeOnce.Do(func() {
		o.endJoins()
		o.mu.Lock()
		o.closed.Store(true)
		o.mu.Unlock()
		close(o.done)
		<-o.stopped
	})
	return nil
}

// enter switches to mode m and moves the tracker to s, unless the Observer
// is closed. The caller holds mu.
func (o *Observer) enter(ctx context.Context, m mode, s otellifecycle.State) {
	o.mode = m
	if o.closed.Load() || o.t.Current() == s {
		return
	}
	// A rejection by a transition policy is reported by the tracker itself
	// (otel.Handle, a WARN record, Stats().Rejected); ErrClosed means the
	// service closed the tracker first, which is no one's error.
	_ = o.t.Set(ctx, s)
}

// run is the Observer's goroutine: it applies membership changes and reads
// the health score, so that neither is done on memberlist's goroutines.
func (o *Observer) run() {
	defer close(o.stopped)
	var tick <-chan time.Time
	if o.worst > 0 {
		ticker := time.NewTicker(healthPoll(o.cfg.healthTimeout))
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-o.done:
			return
		case <-o.kick:
			o.membershipChanged()
		case now := <-tick:
			o.checkHealth(now)
		}
	}
}

// membershipChanged applies the membership as it is now (see the mapping).
func (o *Observer) membershipChanged() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Load() {
		return
	}
	n, selfLeft := o.members()
	ctx := context.Background()
	switch {
	case o.mode == draining || o.mode == stopping:
	case selfLeft:
		o.enter(ctx, draining, otellifecycle.DrainingState())
	case o.mode == member, o.mode == joinFailed && n > 1:
		o.enter(ctx, member, otellifecycle.ReadyState(n))
	}
}

// members returns how many members are alive and whether this node has
// left, as the events report them.
func (o *Observer) members() (alive int, selfLeft bool) {
	o.evMu.Lock()
	defer o.evMu.Unlock()
	return len(o.alive), o.selfLeft
}
