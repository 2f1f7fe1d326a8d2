package statemachine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Transition and Wait once the Machine is closed.
var ErrClosed = errors.New("statemachine: closed")

// ErrUnchanged is returned by Transition to the state the Machine is
// already in: nothing happened, so nothing is recorded.
var ErrUnchanged = errors.New("statemachine: already in that state")

// Snapshot is the current state of a Machine as one immutable value: the
// state, the sequence number of the transition that produced it (0 for the
// initial state) and the time it was entered.
type Snapshot[S any] struct {
	State S
	Seq   uint64
	Since time.Time
}

// Change is one transition as the Machine saw it, handed to the record
// function of Transition to build the entry subscribers get.
type Change[S any] struct {
	Seq      uint64
	From, To S
	At       time.Time
	InPhase  time.Duration // how long From lasted
}

// Config configures a Machine.
type Config[S any] struct {
	// Policy, when set, is asked before every transition; a non-nil error
	// rejects it and Transition returns that error. Nil allows any → any.
	Policy func(from, to S) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Machine is a state with serialized writers and lock-free readers. The zero
// value is not usable; call New, or Init on a Machine embedded in a larger
// struct (which saves an allocation per owner: a process may hold a million).
type Machine[S comparable, E any] struct {
	// cur is the whole read path: Load is one atomic load.
	cur atomic.Pointer[Snapshot[S]]

	mu      sync.Mutex // serializes writers and guards everything below
	cfg     Config[S]
	readers *readers[S, E] // nil until the first Wait or Subscribe
	closed  bool

	subDropped atomic.Uint64
}

// readers are the Machine's waiters and subscribers, kept apart because
// most Machines never have any.
type readers[S, E any] struct {
	waiters []*waiter[S]
	subs    map[*subscription[E]]struct{}
}

type waiter[S any] struct {
	until func(S) bool
	ch    chan Snapshot[S] // buffered 1: the writer never blocks on it
	err   error            // set instead of sending when until panics
}

type subscription[E any] struct {
	ch chan E
}

// New returns a Machine in state initial, entered now, with Seq 0.
func New[S comparable, E any](initial S, cfg Config[S]) *Machine[S, E] {
	m := new(Machine[S, E])
	m.Init(initial, cfg)
	return m
}

// Init makes m a Machine in state initial, entered now, with Seq 0. It is
// New for a Machine that is a field of its owner; call it once, before
// any other method.
func (m *Machine[S, E]) Init(initial S, cfg Config[S]) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m.cfg = cfg
	m.cur.Store(&Snapshot[S]{State: initial, Since: cfg.Now()})
}

// reading returns m's readers, creating them. Call it under m.mu.
func (m *Machine[S, E]) reading() *readers[S, E] {
	if m.readers == nil {
		m.readers = &readers[S, E]{}
	}
	return m.readers
}

// Now reads the Machine's clock (Config.Now), the one that times its
// transitions.
func (m *Machine[S, E]) Now() time.Time { return m.cfg.Now() }

// Load returns the current snapshot. It is one atomic load and never
// allocates: keep it that way, every reader of the tracker goes through here.
// The snapshot must not be modified.
func (m *Machine[S, E]) Load() *Snapshot[S] {
	return m.cur.Load()
}

// Transition moves the machine to state to. Inside the writers' critical
// section, in this order, it publishes the new snapshot, calls record with
// the change (record builds the entry, and may hand it to observers of its
// own), wakes the waiters whose predicate holds for to, and offers the
// entry to every subscriber. Because all of it happens under one lock,
// every observer sees entries in Seq order, with no gaps.
//
// record runs while the writers' lock is held: it must not call back into
// the Machine's writing methods, and it should be quick.
//
// It returns ErrClosed after Close, ErrUnchanged when to is the current
// state (before the policy is asked), or the policy's error, and then
// changes nothing.
func (m *Machine[S, E]) Transition(to S, record func(Change[S]) E) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	prev := m.cur.Load()
	if prev.State == to {
		return ErrUnchanged
	}
	if m.cfg.Policy != nil {
		if err := m.cfg.Policy(prev.State, to); err != nil {
			return err
		}
	}
	now := m.cfg.Now()
	next := &Snapshot[S]{State: to, Seq: prev.Seq + 1, Since: now}
	m.cur.Store(next)

	e := record(Change[S]{
		Seq:     next.Seq,
		From:    prev.State,
		To:      to,
		At:      now,
		InPhase: max(now.Sub(prev.Since), 0),
	})
	if r := m.readers; r != nil {
		if len(r.waiters) > 0 {
			m.wake(*next)
		}
		for s := range r.subs {
			m.offer(s, e)
		}
	}
	return nil
}

// wake hands snap to every waiter whose predicate holds and forgets them.
func (m *Machine[S, E]) wake(snap Snapshot[S]) {
	r := m.readers
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		ok, err := check(w.until, snap.State)
		switch {
		case err != nil:
			w.err = err
			close(w.ch)
		case ok:
			w.ch <- snap
		default:
			kept = append(kept, w)
		}
	}
	clear(r.waiters[len(kept):])
	r.waiters = kept
}

// check runs a caller's predicate, turning a panic into an error so that a
// bad predicate fails its own Wait and nothing else.
func check[S any](until func(S) bool, s S) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("statemachine: Wait predicate panicked: %v", r)
		}
	}()
	return until(s), nil
}

// offer sends e to s without ever blocking: when the buffer is full the
// oldest entry is dropped to make room, and the loss is counted.
func (m *Machine[S, E]) offer(s *subscription[E], e E) {
	select {
	case s.ch <- e:
		return
	default:
	}
	select {
	case <-s.ch:
		m.subDropped.Add(1)
	default: // the subscriber just drained it
	}
	select {
	case s.ch <- e:
	default: // unreachable: only this writer sends, under m.mu
		m.subDropped.Add(1)
	}
}

// Wait blocks until the machine is in a state for which until returns true,
// and returns that snapshot. The current state is checked first; after
// that, every new state is checked by the writer as it happens, so a state
// that lasted a nanosecond is not missed. It returns ctx's error when ctx
// ends first, and ErrClosed when the Machine is closed first.
func (m *Machine[S, E]) Wait(ctx context.Context, until func(S) bool) (Snapshot[S], error) {
	m.mu.Lock()
	cur := *m.cur.Load()
	ok, err := check(until, cur.State)
	if err != nil || ok {
		m.mu.Unlock()
		return cur, err
	}
	if m.closed {
		m.mu.Unlock()
		return cur, ErrClosed
	}
	w := &waiter[S]{until: until, ch: make(chan Snapshot[S], 1)}
	r := m.reading()
	r.waiters = append(r.waiters, w)
	m.mu.Unlock()

	select {
	case snap, ok := <-w.ch:
		return m.result(w, snap, ok)
	case <-ctx.Done():
		m.mu.Lock()
		if i := slices.Index(r.waiters, w); i >= 0 {
			r.waiters = slices.Delete(r.waiters, i, i+1)
		}
		m.mu.Unlock()
		// The writer may have settled it just before we took the lock.
		select {
		case snap, ok := <-w.ch:
			return m.result(w, snap, ok)
		default:
			return *m.cur.Load(), ctx.Err()
		}
	}
}

// result turns what a waiter received into Wait's answer: a snapshot, or
// the predicate's panic, or ErrClosed when its channel was closed by Close.
func (m *Machine[S, E]) result(w *waiter[S], snap Snapshot[S], ok bool) (Snapshot[S], error) {
	switch {
	case ok:
		return snap, nil
	case w.err != nil:
		return *m.cur.Load(), w.err
	default:
		return *m.cur.Load(), ErrClosed
	}
}

// Subscribe returns a channel that receives every entry from now on, and a
// function that cancels the subscription and closes the channel. The
// channel holds up to buffer entries (at least 1); the writer never waits
// for it: when it is full the oldest entry is dropped and counted in
// Dropped. The channel is also closed by Close.
func (m *Machine[S, E]) Subscribe(buffer int) (<-chan E, func()) {
	s := &subscription[E]{ch: make(chan E, max(buffer, 1))}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	r := m.reading()
	if r.subs == nil {
		r.subs = make(map[*subscription[E]]struct{})
	}
	r.subs[s] = struct{}{}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if _, ok := r.subs[s]; ok {
				delete(r.subs, s)
				close(s.ch)
			}
		})
	}
}

// Dropped is how many entries subscribers have lost to full buffers.
func (m *Machine[S, E]) Dropped() uint64 { return m.subDropped.Load() }

// Close refuses further transitions, releases every waiter with ErrClosed
// and closes every subscription. final, when non-nil, runs once inside the
// writers' critical section after that, so it sees the last state and no
// transition can follow it. Close reports whether this call closed the
// Machine; later calls do nothing and return false.
func (m *Machine[S, E]) Close(final func(last Snapshot[S])) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.closed = true
	if r := m.readers; r != nil {
		for _, w := range r.waiters {
			close(w.ch)
		}
		for s := range r.subs {
			close(s.ch)
		}
		r.waiters, r.subs = nil, nil // a later cancel finds nothing to close
	}
	if final != nil {
		final(*m.cur.Load())
	}
	return true
}
