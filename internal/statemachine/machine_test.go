package statemachine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

type entry = statemachine.Change[int]

func newMachine() *statemachine.Machine[int, entry] {
	return statemachine.New[int, entry](0, statemachine.Config[int]{})
}

// asIs records a change as its own entry.
func asIs(c entry) entry { return c }

func TestSeqHasNoGapsAndChainsUnderConcurrentWriters(t *testing.T) {
	m := newMachine()
	var (
		mu   sync.Mutex
		seen []entry
	)
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := m.Transition(g*each+i+1, func(e entry) entry {
					mu.Lock() // record runs in Seq order; keep that order
					seen = append(seen, e)
					mu.Unlock()
					return e
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != writers*each {
		t.Fatalf("observed %d transitions, want %d", len(seen), writers*each)
	}
	prev := 0
	for i, e := range seen {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has Seq %d, want %d", i, e.Seq, i+1)
		}
		if e.From != prev {
			t.Fatalf("Seq %d: From = %d, want previous To %d", e.Seq, e.From, prev)
		}
		prev = e.To
	}
	if snap := m.Load(); snap.Seq != writers*each || snap.State != prev {
		t.Fatalf("final snapshot %+v, want Seq %d State %d", snap, writers*each, prev)
	}
}

func TestWaitSeesAStateThatLastedNoTimeAtAll(t *testing.T) {
	m := newMachine()
	got := make(chan statemachine.Snapshot[int], 1)
	go func() {
		snap, err := m.Wait(t.Context(), func(s int) bool { return s == 2 })
		if err != nil {
			t.Error(err)
		}
		got <- snap
	}()
	testsupport.Eventually(t, "one waiter", 5*time.Second, func() bool { return statemachine.Waiters(m) == 1 })
	// Run straight past state 2: the waiter must still see it.
	for _, s := range []int{1, 2, 3, 4} {
		if err := m.Transition(s, asIs); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case snap := <-got:
		if snap.State != 2 || snap.Seq != 2 {
			t.Fatalf("Wait returned %+v, want state 2 at Seq 2", snap)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
}

func TestWaitReturnsContextErrorOnCancel(t *testing.T) {
	m := newMachine()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := m.Wait(ctx, func(s int) bool { return s == 99 })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait err = %v, want context.DeadlineExceeded", err)
	}
	if n := statemachine.Waiters(m); n != 0 {
		t.Fatalf("%d waiters left behind after cancel", n)
	}
}

func TestWaitReturnsAtOnceWhenAlreadyTrue(t *testing.T) {
	m := newMachine()
	snap, err := m.Wait(ctxExpired(), func(s int) bool { return s == 0 })
	if err != nil || snap.State != 0 {
		t.Fatalf("Wait = %+v, %v; want state 0, nil", snap, err)
	}
}

func TestWaitPredicatePanicFailsOnlyThatWait(t *testing.T) {
	m := newMachine()
	done := make(chan error, 1)
	go func() {
		_, err := m.Wait(t.Context(), func(s int) bool {
			if s == 1 {
				panic("boom")
			}
			return false
		})
		done <- err
	}()
	testsupport.Eventually(t, "one waiter", 5*time.Second, func() bool { return statemachine.Waiters(m) == 1 })
	if err := m.Transition(1, asIs); err != nil {
		t.Fatalf("a panicking predicate broke the transition: %v", err)
	}
	if err := <-done; err == nil {
		t.Fatal("Wait with a panicking predicate returned no error")
	}
	if m.Load().State != 1 {
		t.Fatal("state not updated")
	}
}

func TestCloseReleasesWaitersAndRefusesTransitions(t *testing.T) {
	m := newMachine()
	done := make(chan error, 1)
	go func() {
		_, err := m.Wait(t.Context(), func(s int) bool { return s == 99 })
		done <- err
	}()
	testsupport.Eventually(t, "one waiter", 5*time.Second, func() bool { return statemachine.Waiters(m) == 1 })
	var final statemachine.Snapshot[int]
	if !m.Close(func(last statemachine.Snapshot[int]) { final = last }) {
		t.Fatal("first Close reported false")
	}
	if m.Close(nil) {
		t.Fatal("second Close reported true")
	}
	if err := <-done; !errors.Is(err, statemachine.ErrClosed) {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
	if err := m.Transition(1, asIs); !errors.Is(err, statemachine.ErrClosed) {
		t.Fatalf("Transition after Close = %v, want ErrClosed", err)
	}
	if final.State != 0 {
		t.Fatalf("final saw %+v", final)
	}
}

func TestPolicyRejectsWithoutChangingAnything(t *testing.T) {
	errNo := errors.New("no")
	m := statemachine.New[int, entry](0, statemachine.Config[int]{
		Policy: func(from, to int) error {
			if to < from {
				return errNo
			}
			return nil
		},
	})
	if err := m.Transition(5, asIs); err != nil {
		t.Fatal(err)
	}
	if err := m.Transition(3, asIs); !errors.Is(err, errNo) {
		t.Fatalf("policy error not returned: %v", err)
	}
	if s := m.Load(); s.State != 5 || s.Seq != 1 {
		t.Fatalf("rejected transition changed the machine: %+v", s)
	}
}

func TestSubscriberThatNeverReadsNeverBlocksWriters(t *testing.T) {
	m := newMachine()
	ch, cancel := m.Subscribe(16)
	defer cancel()
	const n = 100_000
	for i := 1; i <= n; i++ {
		if err := m.Transition(i, asIs); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Dropped(); got != n-16 {
		t.Fatalf("Dropped = %d, want %d", got, n-16)
	}
	// Drop-oldest: what is left is the newest 16, in order.
	for want := n - 15; want <= n; want++ {
		if e := <-ch; e.To != want {
			t.Fatalf("subscriber got %d, want %d", e.To, want)
		}
	}
}

func TestSubscribeCancelClosesTheChannel(t *testing.T) {
	m := newMachine()
	ch, cancel := m.Subscribe(1)
	cancel()
	cancel() // twice is fine
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	if err := m.Transition(1, asIs); err != nil {
		t.Fatal(err)
	}
}

// Close closes every subscription's channel; the subscriber's cancel
// afterwards does nothing (it must not close the channel a second time).
func TestCancelAfterCloseDoesNothing(t *testing.T) {
	m := newMachine()
	ch, cancel := m.Subscribe(1)
	if err := m.Transition(1, asIs); err != nil {
		t.Fatal(err)
	}
	m.Close(nil)
	cancel()
	if e, ok := <-ch; !ok || e.To != 1 {
		t.Fatalf("first receive = %+v, %v; want the buffered entry", e, ok)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel open after Close")
	}
}

func ctxExpired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestTransitionToTheCurrentStateChangesNothing(t *testing.T) {
	asked := 0
	m := statemachine.New[int, entry](0, statemachine.Config[int]{
		Policy: func(from, to int) error { asked++; return nil },
	})
	if err := m.Transition(1, asIs); err != nil {
		t.Fatal(err)
	}
	recorded := false
	err := m.Transition(1, func(e entry) entry { recorded = true; return e })
	if !errors.Is(err, statemachine.ErrUnchanged) {
		t.Fatalf("Transition to the current state = %v, want ErrUnchanged", err)
	}
	if recorded || asked != 1 {
		t.Fatalf("recorded %v, policy asked %d times; want nothing recorded and the policy asked once", recorded, asked)
	}
	if snap := m.Load(); snap.Seq != 1 || snap.State != 1 {
		t.Fatalf("snapshot %+v, want Seq 1 in state 1", snap)
	}
}
