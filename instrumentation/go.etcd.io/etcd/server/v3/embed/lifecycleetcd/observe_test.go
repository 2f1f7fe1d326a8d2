package lifecycleetcd_test

import (
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Observe refuses what it cannot work with, with an error that says what,
// and every invalid option with one that names it; it neither attaches
// nor moves the tracker.
func TestObserveRefusesNilsAndInvalidOptionsNamingThem(t *testing.T) {
	c := newCluster(t)
	m := c.bootstrap(names(1))[0]
	m.WaitState(t, "Ready{1}", enginetest.IsReady(1))
	tracker := enginetest.Tracker(t)

	for _, tc := range []struct {
		name    string
		e       *embed.Etcd
		tracker *otellifecycle.Tracker
		opts    []lifecycleetcd.Option
		want    string
	}{
		{"nil etcd", nil, tracker, nil, "lifecycleetcd: Observe: etcd is nil"},
		{"no server", &embed.Etcd{}, tracker, nil, "lifecycleetcd: Observe: etcd has no server (embed.StartEtcd failed?)"},
		{"nil tracker", m.e, nil, nil, "lifecycleetcd: Observe: tracker is nil"},
		{"zero leaderless timeout", m.e, tracker, []lifecycleetcd.Option{lifecycleetcd.WithLeaderlessTimeout(0)},
			"lifecycleetcd: WithLeaderlessTimeout: must be > 0, got 0s"},
		{"two invalid options", m.e, tracker, []lifecycleetcd.Option{
			lifecycleetcd.WithPollInterval(-time.Second), lifecycleetcd.WithLeaderlessTimeout(-1),
		}, "lifecycleetcd: WithPollInterval: must be > 0, got -1s\nlifecycleetcd: WithLeaderlessTimeout: must be > 0, got -1ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := lifecycleetcd.Observe(tc.e, tc.tracker, tc.opts...)
			if err == nil || obs != nil || err.Error() != tc.want {
				if obs != nil {
					_ = obs.Close()
				}
				t.Fatalf("Observe: (%v, %v), want the error %q", obs, err, tc.want)
			}
		})
	}
	if got := tracker.Current(); got != otellifecycle.StartingState() {
		t.Errorf("a refused Observe moved the tracker to %v", got)
	}

	// A nil Option is no option.
	obs, err := lifecycleetcd.Observe(m.e, tracker, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Close(); err != nil {
		t.Fatal(err)
	}
}
