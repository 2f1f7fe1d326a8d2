package otellifecycle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// Sink receives every transition, for destinations the tracker does not
// know itself (systemd, a message bus, an audit log).
//
// Each sink has its own bounded queue (WithSinkQueue) and its own goroutine
// that calls Notify once per transition, in Seq order, never concurrently.
// A transition only enqueues, so a slow or stuck sink never delays a
// transition, nor any other sink. When a sink falls a whole queue behind,
// its oldest queued transition is dropped and counted in
// Stats().SinkDropped; a gap in Seq shows the sink it lost some. An error
// or a panic from Notify is reported through otel.Handle, counted in
// Stats().SinkFailures, and delivery goes on with the next transition.
//
// ctx carries the values of the context given to the transition (trace
// context, baggage) but not its cancellation; it is cancelled when Close
// gives up waiting for the sink.
type Sink interface {
	Notify(ctx context.Context, t Transition) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, t Transition) error

// Notify calls f(ctx, t).
func (f SinkFunc) Notify(ctx context.Context, t Transition) error { return f(ctx, t) }

type queued struct {
	ctx context.Context
	tr  Transition
}

// sinkQueue is one sink's queue and the goroutine that drains it.
type sinkQueue struct {
	sink Sink
	name string

	mu   sync.Mutex
	q    statemachine.Ring[queued]
	wake chan struct{} // buffered 1: a push never waits for the worker

	done     chan struct{} // closed when run returns
	dropped  atomic.Uint64
	failures atomic.Uint64
}

func newSinkQueue(s Sink, bound int) *sinkQueue {
	return &sinkQueue{
		sink: s,
		name: sinkName(s),
		q:    statemachine.NewRing[queued](bound),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

func sinkName(s Sink) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}

// push enqueues a transition; it never blocks.
func (q *sinkQueue) push(ctx context.Context, tr Transition) {
	q.mu.Lock()
	if q.q.Push(queued{ctx, tr}) {
		q.dropped.Add(1)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *sinkQueue) pop() (queued, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.q.Pop()
}

// run delivers queued transitions until stop is closed and the queue is
// empty, or until life is cancelled.
func (q *sinkQueue) run(life context.Context, stop <-chan struct{}) {
	defer close(q.done)
	stopping := false
	for {
		it, ok := q.pop()
		switch {
		case ok && life.Err() != nil:
			q.dropped.Add(1) // Close gave up on this sink
		case ok:
			q.deliver(life, it)
		case stopping:
			return // stop is closed only after the last push
		default:
			select {
			case <-q.wake:
			case <-stop:
				stopping = true
			}
		}
	}
}

func (q *sinkQueue) deliver(life context.Context, it queued) {
	defer func() {
		if r := recover(); r != nil {
			q.failures.Add(1)
			otel.Handle(fmt.Errorf("otellifecycle: sink %s panicked on transition %d: %v", q.name, it.tr.Seq, r))
		}
	}()
	if err := q.sink.Notify(sinkContext{values: it.ctx, life: life}, it.tr); err != nil {
		q.failures.Add(1)
		otel.Handle(fmt.Errorf("otellifecycle: sink %s failed on transition %d: %w", q.name, it.tr.Seq, err))
	}
}

// sinkContext has the values of the transition's context and the lifetime
// of the tracker's sinks.
type sinkContext struct {
	values context.Context
	life   context.Context
}

func (c sinkContext) Deadline() (time.Time, bool) { return c.life.Deadline() }
func (c sinkContext) Done() <-chan struct{}       { return c.life.Done() }
func (c sinkContext) Err() error                  { return c.life.Err() }
func (c sinkContext) Value(key any) any           { return c.values.Value(key) }

// sinks are the tracker's sink queues and what stops them.
type sinks struct {
	queues []*sinkQueue
	life   context.Context // cancelled when Close gives up on them
	cancel context.CancelFunc
	stop   chan struct{}
}

// push hands tr to every sink; nil sinks have none.
func (sk *sinks) push(ctx context.Context, tr Transition) {
	if sk == nil {
		return
	}
	for _, q := range sk.queues {
		q.push(ctx, tr)
	}
}

// drain lets every sink deliver what is queued, until deadline; then
// it cancels the sinks' context and names the ones that had not finished.
func (sk *sinks) drain(deadline time.Time, timeout time.Duration) error {
	close(sk.stop)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var stuck []string
	expired := false
	for _, q := range sk.queues {
		if !expired {
			select {
			case <-q.done:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-q.done:
		default:
			stuck = append(stuck, q.name)
		}
	}
	sk.cancel()
	if len(stuck) > 0 {
		return fmt.Errorf("otellifecycle: Close: sinks still delivering after %v: %v", timeout, stuck)
	}
	return nil
}
