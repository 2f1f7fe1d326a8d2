package otellifecycle_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// epoch is the fake clock's first reading.
var epoch = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// stepClock returns a clock that starts at epoch and advances by step at
// every reading, so durations and timestamps in outputs are exact.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := epoch.Add(-step)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

var quiet = slog.New(slog.DiscardHandler)

// newTracker returns a tracker that logs nowhere and is closed at the end
// of the test.
func newTracker(t testing.TB, opts ...otellifecycle.Option) *otellifecycle.Tracker {
	t.Helper()
	tr, err := otellifecycle.New(append([]otellifecycle.Option{otellifecycle.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// recorder is a sink that keeps every transition it gets.
type recorder struct {
	mu  sync.Mutex
	got []otellifecycle.Transition
}

func (r *recorder) Notify(_ context.Context, t otellifecycle.Transition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, t)
	return nil
}

func (r *recorder) transitions() []otellifecycle.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otellifecycle.Transition(nil), r.got...)
}

// writersState is the i-th state concurrent writer g sets: every phase
// with a payload in turn, the payload g's own, so that no two writers
// set the same state (which is no transition) and every Set counts.
func writersState(g, i int) otellifecycle.State {
	switch i % 4 {
	case 0:
		return otellifecycle.JoiningState(uint32(g))
	case 1:
		return otellifecycle.ReadyState(g + 1)
	case 2:
		return otellifecycle.FailedState(fmt.Sprint("writer ", g))
	default:
		return otellifecycle.JoiningState(uint32(1000 + g))
	}
}
