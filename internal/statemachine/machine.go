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

// Snapshot is the current state of a Machine as one immutable value: the
// state, the sequence number of the transition that produced it (0 for the
// initial state) and the time it was entered.
type Snapshot[S any] struct {
	State S
	Seq   uint64
	Since time.Time
}

// Change is one transition as the Machine saw it, handed to Config.Record to
// build the entry kept in history and sent to subscribers.
type Change[S any] struct {
	Seq      uint64
	From, To S
	At       time.Time
	InPhase  time.Duration // how long From lasted
}

// Config configures a Machine. Record is required.
type Config[S, E any] struct {
	// Policy, when set, is asked before every transition; a non-nil error
	// rejects it and Transition returns that error. Nil allows any → any.
	Policy func(from, to S) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Record builds the entry for a change, handed to observe and sent to
	// subscribers.
	Record func(Change[S]) E
}

// Machine is a state with serialized writers and lock-free readers. The zero
// value is not usable; call New.
type Machine[S, E any] struct {
	// cur is the whole read path: Load is one atomic load.
	cur atomic.Pointer[Snapshot[S]]

	mu      sync.Mutex // serializes writers and guards everything below
	cfg     Config[S, E]
	waiters []*waiter[S]
	subs    map[*subscription[E]]struct{}
	closed  bool
	entry   E // the entry being made; a field, so observe's pointer costs no allocation

	subDropped atomic.Uint64
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
func New[S, E any](initial S, cfg Config[S, E]) *Machine[S, E] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Record == nil {
		panic("statemachine: Config.Record is nil")
	}
	m := &Machine[S, E]{cfg: cfg}
	m.cur.Store(&Snapshot[S]{State: initial, Since: cfg.Now()})
	return m
}

// Load returns the current snapshot. It is one atomic load and never
// allocates: keep it that way, every reader of the tracker goes through here.
// The snapshot must not be modified.
func (m *Machine[S, E]) Load() *Snapshot[S] {
	return m.cur.Load()
}

// Transition moves the machine to state to. Inside the writers' critical
// section, in this order, it publishes the new snapshot, hands the entry
// to observe (when non-nil), wakes the waiters whose predicate holds for
// to, and offers the entry to every subscriber. Because
// all of it happens under one lock, every observer sees entries in Seq
// order, with no gaps.
//
// observe runs while the writers' lock is held: it must not call back into
// the Machine's writing methods, and it should be quick. The entry it gets
// must not be kept past the call.
//
// It returns ErrClosed after Close, or the policy's error, and then changes
// nothing.
func (m *Machine[S, E]) Transition(to S, observe func(*E)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	prev := m.cur.Load()
	if m.cfg.Policy != nil {
		if err := m.cfg.Policy(prev.State, to); err != nil {
			return err
		}
	}
	now := m.cfg.Now()
	next := &Snapshot[S]{State: to, Seq: prev.Seq + 1, Since: now}
	m.cur.Store(next)

	m.entry = m.cfg.Record(Change[S]{
		Seq:     next.Seq,
		From:    prev.State,
		To:      to,
		At:      now,
		InPhase: max(now.Sub(prev.Since), 0),
	})
	if observe != nil {
		observe(&m.entry)
	}
	if len(m.waiters) > 0 {
		m.wake(*next)
	}
	for s := range m.subs {
		m.offer(s, m.entry)
	}
	return nil
}

// wake hands snap to every waiter whose predicate holds and forgets them.
func (m *Machine[S, E]) wake(snap Snapshot[S]) {
	kept := m.waiters[:0]
	for _, w := range m.waiters {
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
	clear(m.waiters[len(kept):])
	m.waiters = kept
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
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()

	select {
	case snap, ok := <-w.ch:
		return m.result(w, snap, ok)
	case <-ctx.Done():
		m.mu.Lock()
		if i := slices.Index(m.waiters, w); i >= 0 {
			m.waiters = slices.Delete(m.waiters, i, i+1)
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
	if m.subs == nil {
		m.subs = make(map[*subscription[E]]struct{})
	}
	m.subs[s] = struct{}{}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if _, ok := m.subs[s]; ok {
				delete(m.subs, s)
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
	for _, w := range m.waiters {
		close(w.ch)
	}
	m.waiters = nil
	for s := range m.subs {
		close(s.ch)
	}
	m.subs = nil
	if final != nil {
		final(*m.cur.Load())
	}
	return true
}
