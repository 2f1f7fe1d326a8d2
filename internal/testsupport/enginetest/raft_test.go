package enginetest_test

import (
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/raftmetrics"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// The Raft instruments' check holds what raftmetrics registers, and
// reports a value, a description or an instrument that differs.
func TestRaftInstrumentsWantWhatIsRegistered(t *testing.T) {
	n := open(t)
	reg, err := raftmetrics.Register(raftmetrics.Spec{
		Scope: "x", Tracker: n.Tracker, ChangesDescription: "changes", ServersDescription: "servers",
	}, func() raftmetrics.Facts { return raftmetrics.Facts{Leader: true, Changes: 2, Voters: 3} })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()
	r := enginetest.RaftInstruments{Scope: "x", Version: otellifecycle.Version, ChangesDescription: "changes", ServersDescription: "servers"}
	r.Want(t, n.Reader, 1, 2, 3, 0, n.Attrs...)
	if got := r.Point(t, n.Reader, enginetest.RaftServers, "voter"); got != 3 {
		t.Errorf("voters %d, want 3", got)
	}
	if got := r.Point(t, n.Reader, enginetest.RaftLastContact); got != -1 {
		t.Errorf("a point %d of an instrument not there", got)
	}

	for _, tc := range []struct {
		name string
		r    enginetest.RaftInstruments
		lead int64
	}{
		{"another value", r, 0},
		{"another description", enginetest.RaftInstruments{Scope: "x", Version: otellifecycle.Version, ChangesDescription: "elected", ServersDescription: "servers"}, 1},
	} {
		e := &errorf{TB: t}
		tc.r.Want(e, n.Reader, tc.lead, 2, 3, 0, n.Attrs...)
		if len(e.errs) == 0 {
			t.Errorf("%s: Want reported nothing", tc.name)
		}
	}
}
