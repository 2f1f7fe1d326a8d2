package otellifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// ScopeName is the instrumentation scope of the tracker's meter, tracer and
// logger.
const ScopeName = "github.com/lifecyclekit/lifecycle/otellifecycle"

// Version is the version of this module, reported with ScopeName on the
// instrumentation scope of the meter, tracer and logger.
const Version = "0.1.0"

// ErrClosed is returned by Set, Wait and WaitReady once the Tracker is
// closed.
var ErrClosed = errors.New("otellifecycle: tracker is closed")

// Tracker tracks one cluster lifecycle and fans every transition out to
// everything that reads it. Its methods are safe for concurrent use.
// Current, IsReady, the probes and metric collection read one atomic
// snapshot and never lock; the status endpoint and History copy the
// history under a short lock of its own, never the writers'. Writers (the
// To* methods, Set) are serialized, so every observer sees transitions in
// the order of Transition.Seq.
type Tracker struct {
	// The fields are what the tracker needs after New, not its whole
	// configuration: a database may hold one tracker per vshard, a million
	// of them (see BENCHMARKS.md).
	m            statemachine.Machine[State, Transition]
	past         *history // nil under WithHistory(0)
	log          *slog.Logger
	attrs        []attribute.KeyValue // WithAttributes
	live         func(State) bool
	redact       bool
	closeTimeout time.Duration
	signals      signals
	sinks        *sinks // nil without WithSinks

	rejected  atomic.Uint64
	started   atomic.Bool // has been Ready at least once (StartupHandler)
	closeOnce sync.Once
	closeErr  error
}

// New returns a Tracker in the Starting phase. It fails only for invalid
// options (the error names the option) or when an instrument cannot be
// registered.
func New(opts ...Option) (*Tracker, error) {
	cfg := trackerConfig(opts).checkMember()
	if g := cfg.group; g != nil {
		cfg = cfg.checkStateKey(g.ins.stateKey) // the Group's gauge is the one reported on
	} else {
		cfg = cfg.checkStateKey(cfg.stateKey)
	}
	if len(cfg.errs) > 0 {
		return nil, errors.Join(cfg.errs...)
	}
	if cfg.meterProvider == nil {
		cfg.meterProvider = otel.GetMeterProvider()
	}
	if cfg.tracerProvider == nil {
		cfg.tracerProvider = otel.GetTracerProvider()
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	t := &Tracker{log: cfg.logger, attrs: cfg.attrs, live: cfg.live, redact: cfg.redact, closeTimeout: cfg.closeTimeout}
	t.m.Init(StartingState(), statemachine.Config[State]{Policy: cfg.policy, Now: cfg.now})
	first := *t.m.Load()
	if cfg.history > 0 {
		t.past = newHistory(cfg.history, first)
	}
	if err := t.signals.init(&cfg, &t.m); err != nil {
		return nil, err
	}
	if len(cfg.sinks) > 0 {
		sk := &sinks{stop: make(chan struct{})}
		sk.life, sk.cancel = context.WithCancel(context.Background())
		for _, s := range cfg.sinks {
			q := newSinkQueue(s, cfg.sinkQueue)
			sk.queues = append(sk.queues, q)
			go q.run(sk.life, sk.stop)
		}
		t.sinks = sk
	}
	// Every destination learns the initial state now, as Seq 0.
	initial := Transition{From: first.State, To: first.State, Detail: first.State.Detail(), At: first.Since}
	t.logInitial(&initial)
	t.sinks.push(context.Background(), initial)
	return t, nil
}

// Current returns the current state. It is one atomic load and never
// allocates or locks: keep it that way, it is on every reader's path.
func (t *Tracker) Current() State { return t.m.Load().State }

// IsReady reports whether the current phase is Ready: one atomic load, no
// lock, no allocation.
func (t *Tracker) IsReady() bool { return t.m.Load().State.Phase == Ready }

// IsLive reports whether the current state is live by the tracker's own
// rule: every phase but Failed, or WithLiveness. It is the rule LiveHandler
// answers with, so a watchdog fed by IsLive (sdnotify's StartWatchdog) and
// a /livez probe never disagree. One atomic load, no lock, no allocation:
// keep it that way, watchdogs call it on a timer.
func (t *Tracker) IsLive() bool { return t.live(t.m.Load().State) }

// ToStarting moves to Starting.
func (t *Tracker) ToStarting(ctx context.Context) { t.to(ctx, StartingState()) }

// ToRestarting moves to Restarting.
func (t *Tracker) ToRestarting(ctx context.Context) { t.to(ctx, RestartingState()) }

// ToBootstrapping moves to Bootstrapping.
func (t *Tracker) ToBootstrapping(ctx context.Context) { t.to(ctx, BootstrappingState()) }

// ToJoining moves to Joining with the given attempt, counted from 0.
func (t *Tracker) ToJoining(ctx context.Context, attempt uint32) {
	t.to(ctx, JoiningState(attempt))
}

// ToReady moves to Ready in a cluster of nodes nodes (negative is taken as 0).
func (t *Tracker) ToReady(ctx context.Context, nodes int) { t.to(ctx, ReadyState(nodes)) }

// ToDraining moves to Draining.
func (t *Tracker) ToDraining(ctx context.Context) { t.to(ctx, DrainingState()) }

// ToStopping moves to Stopping.
func (t *Tracker) ToStopping(ctx context.Context) { t.to(ctx, StoppingState()) }

// ToFailed moves to Failed. The reason is normalized and bounded (see
// MaxReasonBytes); it may be any text, including an error's.
func (t *Tracker) ToFailed(ctx context.Context, reason string) {
	t.to(ctx, FailedState(reason))
}

// to is Set for the To* methods: a rejection was already reported, and a
// transition after Close is dropped silently (shutdown paths often race
// their last transition with Close).
func (t *Tracker) to(ctx context.Context, s State) {
	_ = t.Set(ctx, s)
}

// Set moves to any valid state and reports what happened: nil when the
// transition was made, nil and nothing else when s is the current state
// already (no Seq, no record, no event: a state set twice, such as a
// Stopping that an engine module and the service both report, is one
// fact), an error from State.Validate for an invalid state,
// the policy's error (wrapped) when WithTransitionPolicy rejects it, or
// ErrClosed after Close. A Failed reason is normalized first.
//
// ctx carries the caller's trace context: the transition's span event is
// also added to the recording span in ctx, and sinks get ctx's values
// (not its cancellation).
func (t *Tracker) Set(ctx context.Context, s State) error {
	if s.Phase == Failed {
		s.Reason = NormalizeReason(s.Reason)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	err := t.m.Transition(s, func(c statemachine.Change[State]) Transition {
		tr := Transition{Seq: c.Seq, From: c.From, To: c.To, Detail: c.To.Detail(), At: c.At, InPhase: c.InPhase}
		t.emit(ctx, &tr)
		return tr
	})
	switch {
	case err == nil, errors.Is(err, statemachine.ErrUnchanged):
		return nil
	case errors.Is(err, statemachine.ErrClosed):
		return ErrClosed
	default:
		from := t.Current()
		t.rejected.Add(1)
		err = fmt.Errorf("otellifecycle: transition %s → %s rejected: %w", from.Label(), s.Label(), err)
		t.log.LogAttrs(ctx, slog.LevelWarn, "cluster lifecycle transition rejected", t.slogAttrs(
			slog.String("prev", from.Label()), slog.String("new", s.Label()), slog.String("error", err.Error()))...)
		otel.Handle(err)
		return err
	}
}

// emit fans one transition out. It runs inside the writers' critical
// section, so every destination gets transitions in Seq order.
func (t *Tracker) emit(ctx context.Context, tr *Transition) {
	if t.past != nil {
		t.past.add(tr)
	}
	if tr.To.Phase == Ready {
		t.started.Store(true)
	}
	t.logTransition(ctx, tr)
	t.signals.transition(ctx, tr)
	t.sinks.push(ctx, *tr)
}

// logInitial writes the INFO record of the state the tracker starts in:
// not a transition (nothing led to it), so not logged as one, but a log
// read from its start knows the state from its first line.
func (t *Tracker) logInitial(tr *Transition) {
	ctx := context.Background()
	if !t.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "cluster lifecycle initial state", t.slogAttrs(
		slog.String("state", tr.To.Label()),
		slog.String("detail", tr.Detail),
		slog.Uint64("seq", tr.Seq),
	)...)
}

// logTransition writes the INFO record of tr: prev, new, detail and seq,
// as the Rust tracker this package descends from logs them, then
// WithAttributes (as spans and OpenTelemetry log records carry them).
func (t *Tracker) logTransition(ctx context.Context, tr *Transition) {
	if !t.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "cluster lifecycle transition", t.slogAttrs(
		slog.String("prev", tr.From.Label()),
		slog.String("new", tr.To.Label()),
		slog.String("detail", tr.Detail),
		slog.Uint64("seq", tr.Seq),
	)...)
}

// slogAttrs returns attrs followed by WithAttributes, as slog attributes.
// They are built per record, not kept: a record is written a few times in
// a tracker's life, and a million trackers would each carry the copy.
func (t *Tracker) slogAttrs(attrs ...slog.Attr) []slog.Attr {
	for _, kv := range t.attrs {
		attrs = append(attrs, slog.Any(string(kv.Key), kv.Value.AsInterface()))
	}
	return attrs
}

// view returns the current state and the history that led to it, taken at
// one instant.
func (t *Tracker) view() (statemachine.Snapshot[State], []Transition) {
	if t.past == nil {
		return *t.m.Load(), nil
	}
	return t.past.view()
}

// History returns up to WithHistory recent transitions, oldest first, in a
// new slice. The history is kept compactly, so each At is rebuilt from
// nanoseconds: equal to the original, without its monotonic clock reading.
func (t *Tracker) History() []Transition {
	_, h := t.view()
	return h
}

// WaitReady blocks until the tracker is Ready and returns that state. See
// Wait.
func (t *Tracker) WaitReady(ctx context.Context) (State, error) {
	return t.Wait(ctx, State.IsReady)
}

// Wait blocks until the state satisfies until, and returns that state. The
// current state is checked first; after that every new state is checked as
// it is entered, so a state that lasted no time at all is not missed. It
// returns ctx's error when ctx ends first and ErrClosed when the tracker is
// closed first (with the current state in both cases). A panic in until
// fails this Wait with an error and nothing else.
func (t *Tracker) Wait(ctx context.Context, until func(State) bool) (State, error) {
	snap, err := t.m.Wait(ctx, until)
	if errors.Is(err, statemachine.ErrClosed) {
		err = ErrClosed
	}
	return snap.State, err
}

// Subscribe returns a channel that receives every transition from now on,
// and a function that ends the subscription and closes the channel. The
// channel buffers up to buffer transitions (at least 1). A transition never
// waits for a subscriber: when the buffer is full the oldest buffered
// transition is dropped to make room (so a slow reader always holds the
// newest ones) and the loss is counted in Stats().SubscriberDropped. A gap
// in Seq tells a subscriber it lost some. Close closes every channel.
func (t *Tracker) Subscribe(buffer int) (<-chan Transition, func()) {
	return t.m.Subscribe(buffer)
}

// MeterProvider returns the MeterProvider the tracker's metrics go to: its
// WithMeterProvider (or the global one at New), or, for a member of a
// Group, the Group's. Instrumentation that reports beside the tracker (an
// engine module's instruments) uses it by default, so whatever wiring
// gives the tracker its provider gives theirs too.
func (t *Tracker) MeterProvider() metric.MeterProvider {
	if g := t.signals.metrics.group; g != nil {
		return g.mp
	}
	return t.signals.metrics.own.mp
}

// Attributes returns, in a new slice, the attributes on the tracker's
// metric points: its WithAttributes, after its Group's for a member of a
// Group. Instrumentation that reports beside the tracker puts them on its
// own points by default, so its series join the tracker's.
func (t *Tracker) Attributes() []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if g := t.signals.metrics.group; g != nil {
		attrs = append(attrs, g.attrs...)
	}
	return append(attrs, t.attrs...)
}

// Stats counts what the tracker did and what it had to give up.
type Stats struct {
	Transitions       uint64 // transitions made (the Seq of the current state)
	Rejected          uint64 // transitions refused by the policy
	SinkDropped       uint64 // transitions sinks lost to full queues or to Close's deadline
	SinkFailures      uint64 // Notify calls that returned an error or panicked
	SubscriberDropped uint64 // transitions subscribers lost to full buffers
}

// Stats returns the counters. Each is read atomically; together they are
// not one snapshot.
func (t *Tracker) Stats() Stats {
	s := Stats{
		Transitions:       t.m.Load().Seq,
		Rejected:          t.rejected.Load(),
		SubscriberDropped: t.m.Dropped(),
	}
	if t.sinks != nil {
		for _, q := range t.sinks.queues {
			s.SinkDropped += q.dropped.Load()
			s.SinkFailures += q.failures.Load()
		}
	}
	return s
}

// Close ends the tracker. A standalone tracker first makes its
// MeterProvider export (ForceFlush, when the provider has it), so the last
// export carries the final state; then further transitions are refused
// (ErrClosed), waiters return ErrClosed, subscription channels close,
// metric callbacks are unregistered (its series are gone at the next
// collection) and open spans end. Sinks deliver what is queued. All of it
// takes WithCloseTimeout at most: past that, Close cancels the sinks'
// context, counts what was not delivered in Stats().SinkDropped and
// returns an error. Close is idempotent: later calls return the first
// call's result.
//
// At shutdown, move to Stopping (which ends the last episode span), then
// close the tracker and shut the providers down in either order: the
// natural
//
//	defer providers.Shutdown(ctx)
//	defer tracker.Close()
//
// runs Close first, whose flush exports the Stopping state; with the
// providers shut down first, their own last collection does.
func (t *Tracker) Close() error {
	t.closeOnce.Do(func() {
		deadline := time.Now().Add(t.closeTimeout)
		t.signals.metrics.flush(deadline)
		var errs []error
		t.m.Close(func(last statemachine.Snapshot[State]) {
			if err := t.signals.close(last.State, t.m.Now); err != nil {
				errs = append(errs, err)
			}
		})
		if t.sinks != nil {
			if err := t.sinks.drain(deadline, t.closeTimeout); err != nil {
				errs = append(errs, err)
			}
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// ContextWithPhase returns ctx carrying the span context of the current
// phase span (or of the episode, between phases), so that spans started
// from it, such as a join request, appear inside that phase of the
// lifecycle trace. When no span is being recorded it returns ctx as is.
func (t *Tracker) ContextWithPhase(ctx context.Context) context.Context {
	sc := t.signals.currentSpan()
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}
