package statemachine_test

import (
	"slices"
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

func TestRingKeepsNewestInOrderAndCountsDrops(t *testing.T) {
	r := statemachine.NewRing[int](3)
	var dropped int
	for i := 1; i <= 5; i++ {
		if r.Push(i) {
			dropped++
		}
	}
	if got := r.AppendTo(nil); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("ring = %v, want [3 4 5]", got)
	}
	if dropped != 2 {
		t.Fatalf("dropped = %d, want 2", dropped)
	}
}

func TestRingInterleavedPushPopNeverLosesOrOverwrites(t *testing.T) {
	// Exercise every interleaving shape the growth path meets: wrapped,
	// partially drained, regrown.
	const bound = 7
	r := statemachine.NewRing[int](bound)
	var want []int // model: a bounded FIFO
	next := 0
	for step := 0; step < 2000; step++ {
		if step%3 == 2 || (step/50)%2 == 1 && step%2 == 0 {
			v, ok := r.Pop()
			if len(want) == 0 {
				if ok {
					t.Fatalf("step %d: Pop from empty ring gave %d", step, v)
				}
				continue
			}
			if !ok || v != want[0] {
				t.Fatalf("step %d: Pop = %d,%v, want %d", step, v, ok, want[0])
			}
			want = want[1:]
			continue
		}
		next++
		dropped := r.Push(next)
		want = append(want, next)
		if len(want) > bound {
			want = want[1:]
			if !dropped {
				t.Fatalf("step %d: Push into a full ring did not report a drop", step)
			}
		} else if dropped {
			t.Fatalf("step %d: Push reported a drop below the bound", step)
		}
		if got := r.AppendTo(nil); !slices.Equal(got, want) {
			t.Fatalf("step %d: ring = %v, want %v", step, got, want)
		}
	}
}

func TestRingOfZeroHoldsNothing(t *testing.T) {
	r := statemachine.NewRing[int](0)
	if !r.Push(1) || r.Len() != 0 {
		t.Fatalf("bound 0 kept an entry")
	}
	if _, ok := r.Pop(); ok {
		t.Fatalf("Pop from bound-0 ring succeeded")
	}
}
