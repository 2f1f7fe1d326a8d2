package otellifecycle

import (
	"sync"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/statemachine"
)

// past is a transition as the history keeps it. From is the previous
// entry's To (or the history's base, for the oldest), Detail is To's, and
// At is kept in nanoseconds: 72 bytes where a Transition takes 152, which
// is most of a tracker's memory when the history is full.
type past struct {
	seq     uint64
	to      State
	at      int64
	inPhase time.Duration
}

// history keeps the recent transitions, and the state they lead to, under
// one lock: the status endpoint reads both at once.
type history struct {
	mu   sync.Mutex
	ring statemachine.Ring[past]
	base State                        // the From of the oldest entry
	now  statemachine.Snapshot[State] // the state the newest entry entered
}

func newHistory(n int, first statemachine.Snapshot[State]) *history {
	return &history{ring: statemachine.NewRing[past](n), base: first.State, now: first}
}

// add records tr. It runs in the writers' critical section.
func (h *history) add(tr *Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ring.Len() > 0 && h.ring.Len() == h.ring.Cap() {
		oldest, _ := h.ring.Pop()
		h.base = oldest.to
	}
	h.ring.Push(past{seq: tr.Seq, to: tr.To, at: tr.At.UnixNano(), inPhase: tr.InPhase})
	h.now = statemachine.Snapshot[State]{State: tr.To, Seq: tr.Seq, Since: tr.At}
}

// view returns the current state and the transitions that led to it,
// oldest first, taken at one instant.
func (h *history) view() (statemachine.Snapshot[State], []Transition) {
	h.mu.Lock()
	entries := h.ring.AppendTo(make([]past, 0, h.ring.Len()))
	from, now := h.base, h.now
	h.mu.Unlock()
	out := make([]Transition, len(entries))
	for i, e := range entries {
		out[i] = Transition{Seq: e.seq, From: from, To: e.to, Detail: e.to.Detail(), At: time.Unix(0, e.at), InPhase: e.inPhase}
		from = e.to
	}
	return now, out
}
