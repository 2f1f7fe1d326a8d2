package otellifecycle_test

import (
	"sync"
	"testing"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// originTracker is the baseline: the origin's design, a state behind an
// RWMutex, read by copy.
type originTracker struct {
	mu    sync.RWMutex
	state otellifecycle.State
}

func (o *originTracker) current() otellifecycle.State {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.state
}

func (o *originTracker) isReady() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.state.Phase == otellifecycle.Ready
}

var (
	sinkState otellifecycle.State
	sinkBool  bool
)

func BenchmarkCurrent(b *testing.B) {
	ctx := b.Context()
	tr := newTracker(b)
	tr.ToReady(ctx, 3)
	origin := &originTracker{state: otellifecycle.ReadyState(3)}
	b.Run("impl=tracker", func(b *testing.B) {
		b.ReportAllocs()
		var s otellifecycle.State
		for b.Loop() {
			s = tr.Current()
		}
		sinkState = s
	})
	b.Run("impl=origin-rwmutex", func(b *testing.B) {
		b.ReportAllocs()
		var s otellifecycle.State
		for b.Loop() {
			s = origin.current()
		}
		sinkState = s
	})
	b.Run("impl=tracker/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s otellifecycle.State
			for pb.Next() {
				s = tr.Current()
			}
			_ = s
		})
	})
	b.Run("impl=origin-rwmutex/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s otellifecycle.State
			for pb.Next() {
				s = origin.current()
			}
			_ = s
		})
	})
}

func BenchmarkIsReady(b *testing.B) {
	ctx := b.Context()
	tr := newTracker(b)
	tr.ToReady(ctx, 3)
	origin := &originTracker{state: otellifecycle.ReadyState(3)}
	b.Run("impl=tracker", func(b *testing.B) {
		b.ReportAllocs()
		var ok bool
		for b.Loop() {
			ok = tr.IsReady()
		}
		sinkBool = ok
	})
	b.Run("impl=origin-rwmutex", func(b *testing.B) {
		b.ReportAllocs()
		var ok bool
		for b.Loop() {
			ok = origin.isReady()
		}
		sinkBool = ok
	})
	b.Run("impl=tracker/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ok bool
			for pb.Next() {
				ok = tr.IsReady()
			}
			_ = ok
		})
	})
	b.Run("impl=origin-rwmutex/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ok bool
			for pb.Next() {
				ok = origin.isReady()
			}
			_ = ok
		})
	})
}

// BenchmarkTransitionNoProviders is a transition with the default (unset,
// no-op) global providers and a discarding logger: the cost the tracker
// itself adds. Joining attempts carry a payload, so their Detail is built.
func BenchmarkTransitionNoProviders(b *testing.B) {
	ctx := b.Context()
	tr := newTracker(b)
	b.Run("payload=joining", func(b *testing.B) {
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			tr.ToJoining(ctx, i)
			i++
		}
	})
	b.Run("payload=none", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i&1 == 0 {
				tr.ToDraining(ctx)
			} else {
				tr.ToBootstrapping(ctx)
			}
			i++
		}
	})
}

// cycle is a lifecycle that visits every phase, ending and starting
// episodes on the way.
var cycle = []otellifecycle.State{
	otellifecycle.RestartingState(), otellifecycle.JoiningState(1), otellifecycle.FailedState("seeds down"),
	otellifecycle.BootstrappingState(), otellifecycle.ReadyState(3), otellifecycle.DrainingState(),
	otellifecycle.StoppingState(), otellifecycle.StartingState(),
}

func BenchmarkTransitionNoProvidersCycle(b *testing.B) {
	ctx := b.Context()
	tr := newTracker(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = tr.Set(ctx, cycle[i%len(cycle)])
		i++
	}
}
