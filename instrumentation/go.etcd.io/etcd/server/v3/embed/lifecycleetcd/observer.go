package lifecycleetcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/embed"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// ScopeName is the instrumentation scope of the Observer's meter. The
// meter's version is otellifecycle.Version: the modules are released
// together.
const ScopeName = "github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"

// ErrClosed is what Leave returns after Shutdown: the server is stopping,
// there is nothing left to leave.
var ErrClosed = errors.New("lifecycleetcd: the Observer is shut down")

// errBuffer is how many of the errors etcd reports through Etcd.Err the
// Observer keeps for Err's reader; more, unread, are dropped and counted.
const errBuffer = 16

// Observer drives an otellifecycle.Tracker from one embedded etcd server.
// It is made by Observe and ended by Close (or Shutdown). Its methods are
// safe for concurrent use.
type Observer struct {
	e    *embed.Etcd
	self types.ID // this member's ID
	cfg  engine.Config
	// d keeps the facts and the service's intents, moves the tracker to
	// the phase they mean and runs the Observer's goroutines.
	d   *engine.Driver[facts]
	reg metric.Registration

	// wake is the one-slot, latest-value-wins signal from the goroutine
	// that reads Etcd.Err to the one that evaluates.
	wake chan struct{}
	errc chan error // Err's channel

	reads, signals, errsDropped atomic.Uint64

	shutdownOnce sync.Once
}

// Stats counts the Observer's reads of the server, the notifications that
// prompted them and the errors Err's reader missed.
type Stats struct {
	Reads       uint64 // reads of the server's state: in Observe, on every notification and poll
	Signals     uint64 // notifications: a leader change, ready, stopping, stopped, an error
	ErrsDropped uint64 // errors from Etcd.Err dropped because Err's buffer was full
}

// Observe attaches an Observer to e, an etcd server embedded in this
// process, and starts driving t from what it reports. Call it right after
// embed.StartEtcd returns, before waiting on e.Server.ReadyNotify(): it
// reads on the spot whether the member served in an earlier run
// (Restarting), starts a new cluster (Bootstrapping) or joins one
// (Joining). See the package documentation for the whole mapping.
//
// Observe takes e.Err() over: the Observer reads the errors etcd reports
// there, shows the first as Failed, and passes every one on through its own
// Err, which the service reads in place of e.Err().
//
// The Observer never blocks the server: it waits on the channels the
// server closes (ReadyNotify, LeaderChangedNotify, StoppingNotify,
// StopNotify) and reads the server's state (Leader, the cluster's
// membership, IsIDRemoved, each under the server's own short locks) from
// goroutines of its own, on every notification and every WithPollInterval.
// It registers the Raft instruments on the tracker's MeterProvider (or
// WithMeterProvider's), with the tracker's attributes.
//
// Observe returns an error, and attaches nothing, when e, e.Server or t is
// nil, an option is invalid (the error names it), or the instruments
// cannot be registered. From then on the Observer owns t's phase: the
// service calls the Observer's methods, not t's To*. Close the Observer
// (or call Shutdown) before closing t.
func Observe(e *embed.Etcd, t *otellifecycle.Tracker, opts ...Option) (*Observer, error) {
	switch {
	case e == nil:
		return nil, errors.New("lifecycleetcd: Observe: etcd is nil")
	case e.Server == nil:
		return nil, errors.New("lifecycleetcd: Observe: etcd has no server (embed.StartEtcd failed?)")
	case t == nil:
		return nil, errors.New("lifecycleetcd: Observe: tracker is nil")
	}
	cfg := newConfig(opts)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	o := &Observer{
		e:    e,
		self: e.Server.MemberID(),
		cfg:  cfg,
		d:    engine.NewDriver(t, cfg, ErrClosed, engine.Mapping[facts]{Derive: derive, Deadline: leaderlessDeadline}),
		wake: make(chan struct{}, 1),
		errc: make(chan error, errBuffer),
	}
	// A member finds its own client URLs in the membership it starts with
	// only when it recovered them from its data directory: it published
	// them through Raft when it first served, in an earlier run. A new
	// member's entry, made from the initial cluster, has peer URLs only.
	restart := false
	if m := e.Server.Cluster().Member(o.self); m != nil {
		restart = len(m.ClientURLs) > 0
	}
	newCluster := e.Config().ClusterState == embed.ClusterStateFlagNew
	o.d.Change(func(f *facts, _ *engine.Intents) { f.restart, f.newCluster = restart, newCluster })
	var err error
	if o.reg, err = o.registerMetrics(t); err != nil {
		return nil, fmt.Errorf("lifecycleetcd: Observe: registering the Raft instruments: %w", err)
	}
	o.refresh()
	o.d.Evaluate(context.Background())
	o.d.Go(o.run)
	o.d.Go(o.forwardErrs)
	return o, nil
}

// Err returns the channel on which the Observer passes on every error etcd
// reports through e.Err() (which Observe takes over): a listener that
// stopped serving, for example, which etcd's own main treats as fatal. It
// holds up to 16 unread errors; more are dropped and counted in Stats. It
// is closed when e.Err() is (once etcd is closed) or when the Observer is.
func (o *Observer) Err() <-chan error { return o.errc }

// Stats returns the Observer's counters. Each is read atomically; together
// they are not one snapshot.
func (o *Observer) Stats() Stats {
	return Stats{Reads: o.reads.Load(), Signals: o.signals.Load(), ErrsDropped: o.errsDropped.Load()}
}

// Close detaches the Observer: it stops its goroutines (e.Err() is then
// the service's to read again, and Err is closed) and unregisters the Raft
// instruments. It changes neither the tracker's phase nor the server: once
// it returns, the Observer moves the tracker no more. Close is idempotent
// and safe to call concurrently with every method; every call returns the
// first one's result, an error only when the instruments could not be
// unregistered.
func (o *Observer) Close() error {
	return o.d.Close(o.reg)
}

// run is the Observer's main goroutine: it turns the server's
// notifications, poll ticks and the leaderless deadline into reads and
// evaluations. Each notification channel is taken before the read it
// prompts, so a change after the read closes a channel already held.
func (o *Observer) run() {
	s := o.e.Server
	ready, stopping, stopped := s.ReadyNotify(), s.StoppingNotify(), s.StopNotify()
	leader := s.LeaderChangedNotify()
	clock := engine.NewClock(o.cfg.PollInterval)
	defer clock.Stop()
	for {
		select {
		case <-o.d.Done():
			return
		case <-ready:
			ready = nil // closed for good
			o.signals.Add(1)
		case <-stopping:
			stopping = nil
			o.signals.Add(1)
		case <-stopped:
			stopped = nil
			o.signals.Add(1)
		case <-leader:
			leader = s.LeaderChangedNotify()
			o.signals.Add(1)
		case <-o.wake:
		case <-clock.Poll():
		case <-clock.Deadline():
		}
		o.refresh()
		o.d.Evaluate(context.Background())
		clock.Arm(o.d.Deadline())
	}
}

// forwardErrs reads e.Err() for the Observer's life: it records the first
// error as a fact, passes every one on to Err without waiting (dropping
// and counting what does not fit), and closes Err when e.Err() closes or
// the Observer does. etcd's serving goroutines wait to hand their error
// over; this goroutine takes it at once, whatever the tracker does.
func (o *Observer) forwardErrs() {
	defer close(o.errc)
	for {
		select {
		case <-o.d.Done():
			return
		case err, ok := <-o.e.Err():
			if !ok {
				return
			}
			if err == nil {
				continue
			}
			o.signals.Add(1)
			select {
			case o.errc <- err:
			default:
				o.errsDropped.Add(1)
			}
			o.d.Change(func(f *facts, _ *engine.Intents) {
				if f.err == "" {
					f.err = otellifecycle.NormalizeReason(err.Error())
				}
			})
			select {
			case o.wake <- struct{}{}:
			default:
			}
		}
	}
}

// refresh reads the server's state into the facts: each read takes one of
// the server's own short locks or an atomic, never a trip through its Raft
// loop.
func (o *Observer) refresh() {
	s := o.e.Server
	// Stopped is read before the rest: a stopped server has run its last
	// apply, so what follows is final.
	down := isClosed(s.StopNotify())
	ending := down || isClosed(s.StoppingNotify())
	ready := isClosed(s.ReadyNotify())
	lead := s.Leader()
	removed := s.IsIDRemoved(uint64(o.self))
	var voters, learners int
	member, learner := false, false
	for _, m := range s.Cluster().Members() {
		if m.IsLearner {
			learners++
		} else {
			voters++
		}
		if m.ID == o.self {
			member, learner = true, m.IsLearner
		}
	}
	o.reads.Add(1)
	now := time.Now()
	if down {
		lead = 0 // a stopped server keeps its last leader; it has none
	}

	o.d.Change(func(f *facts, _ *engine.Intents) {
		// A leader change, as etcd counts them (etcd_server_leader_changes_seen_total):
		// a leader that is not the one known before, after another or after none.
		if lead != 0 && lead != f.lead {
			f.changes++
		}
		switch {
		case lead != 0:
			f.sawLeader, f.lastLeader = true, lead
		case f.lead != 0:
			f.leaderLostAt = now
		}
		f.lead = lead
		f.ending = f.ending || ending
		f.down = f.down || down
		f.ready = f.ready || ready
		f.member, f.learner = member, learner
		f.removed = f.removed || removed
		f.voters, f.learners = voters, learners
	})
}

// isClosed says whether ch, a channel that is only ever closed, is.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
