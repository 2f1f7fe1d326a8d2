package otellifecycle_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// everyState is one state of each phase, in Phases() order.
var everyState = []otellifecycle.State{
	otellifecycle.StartingState(), otellifecycle.RestartingState(), otellifecycle.BootstrappingState(),
	otellifecycle.JoiningState(1), otellifecycle.ReadyState(3), otellifecycle.DrainingState(),
	otellifecycle.StoppingState(), otellifecycle.FailedState("lost quorum"),
}

// IsLive is the tracker's liveness rule, the one /livez answers with, so a
// systemd watchdog fed by it and a Kubernetes liveness probe never
// disagree.
func TestIsLiveAgreesWithLiveHandler(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []otellifecycle.Option
		dead otellifecycle.Phase // the one phase that is not live
	}{
		{"default: every phase but Failed", nil, otellifecycle.Failed},
		{"WithLiveness: every phase but Stopping", []otellifecycle.Option{
			otellifecycle.WithLiveness(func(s otellifecycle.State) bool { return s.Phase != otellifecycle.Stopping }),
		}, otellifecycle.Stopping},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newTracker(t, c.opts...)
			live := tr.LiveHandler()
			for _, s := range everyState {
				if err := tr.Set(t.Context(), s); err != nil {
					t.Fatal(err)
				}
				rec := httptest.NewRecorder()
				live.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
				want := s.Phase != c.dead
				if got := tr.IsLive(); got != want {
					t.Errorf("in %v: IsLive() = %v, want %v", s, got, want)
				}
				if got := rec.Code == http.StatusOK; got != want {
					t.Errorf("in %v: /livez %d, but IsLive() = %v", s, rec.Code, tr.IsLive())
				}
			}
		})
	}
}

// IsLive is on a watchdog's path, like Current: one atomic load, no
// allocation.
func TestIsLiveDoesNotAllocate(t *testing.T) {
	tr := newTracker(t)
	for _, s := range []otellifecycle.State{otellifecycle.ReadyState(3), otellifecycle.FailedState("x")} {
		if err := tr.Set(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		if allocs := testing.AllocsPerRun(1000, func() { _ = tr.IsLive() }); allocs != 0 {
			t.Fatalf("in %v IsLive allocates %v times", s, allocs)
		}
	}
}
