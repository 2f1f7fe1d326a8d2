package enginetest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// errorf records Error and Errorf calls instead of failing the test.
type errorf struct {
	testing.TB
	errs []string
}

func (e *errorf) Helper()           {}
func (e *errorf) Error(args ...any) { e.errs = append(e.errs, fmt.Sprint(args...)) }
func (e *errorf) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// open is a Node with its tracker, closed when the test ends.
func open(t *testing.T) *enginetest.Node {
	t.Helper()
	n := &enginetest.Node{Name: "n1", Attrs: []attribute.KeyValue{attribute.String("node.id", "n1")}, WaitFor: time.Second, Started: time.Now()}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(t) })
	return n
}

// A node's path reads as the tests compare it, its phases merge repeats,
// and the time it was not Ready is counted from its history; the checks
// report a path that differs.
func TestNodeReadsItsTrackersPath(t *testing.T) {
	n := open(t)
	ctx := t.Context()
	if got := n.States(t); !slices.Equal(got, []string{"starting"}) {
		t.Errorf("a new tracker's states %q", got)
	}
	n.Tracker.ToJoining(ctx, 0)
	n.Tracker.ToReady(ctx, 1)
	mid := time.Now()
	n.Tracker.ToReady(ctx, 2)
	n.Tracker.ToFailed(ctx, "disk full")
	n.WaitState(t, "Failed", enginetest.IsPhase(otellifecycle.Failed))
	end := time.Now()

	n.WantStates(t, "starting", "joining:0", "ready:1", "ready:2", "failed:disk full")
	n.WantStatesEnd(t, "ready:2", "failed:disk full")
	n.WantPhases(t, "starting", "joining", "ready", "failed")
	n.WantGauge(t, otellifecycle.Failed)
	if !n.ReadyAt(mid) {
		t.Errorf("not Ready at %v:%s", mid, n.Timeline(time.Time{}))
	}
	at, s, ok := n.EnteredAt(otellifecycle.Failed, mid)
	if !ok || s != otellifecycle.FailedState("disk full") {
		t.Errorf("EnteredAt: %v, %v, %v", at, s, ok)
	}
	if d := n.NotReadyAfter(mid, end); d != end.Sub(at) {
		t.Errorf("not Ready for %v after %v, want %v", d, mid, end.Sub(at))
	}

	e := &errorf{TB: t}
	n.WantStates(e, "starting", "ready:2")
	n.WantStatesEnd(e, "ready:2")
	n.WantPhases(e, "starting", "ready")
	if len(e.errs) != 3 {
		t.Errorf("%d of 3 wrong paths reported: %q", len(e.errs), e.errs)
	}
}

// A stalled tracker holds its move to Ready until Release.
func TestStallHoldsReadyUntilRelease(t *testing.T) {
	stall := enginetest.NewStall()
	defer stall.Release()
	n := &enginetest.Node{Name: "n1", WaitFor: 5 * time.Second}
	if err := n.Open(stall.Options()...); err != nil {
		t.Fatal(err)
	}
	defer n.Close(t)
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		n.Tracker.ToReady(context.Background(), 1)
	}()
	testsupport.Eventually(t, "the move to Ready held", 5*time.Second, stall.Blocked)
	if got := n.Tracker.Current(); got.IsReady() {
		t.Fatalf("the tracker is %v: the stall is not real", got)
	}
	stall.Release()
	<-moved
	n.WaitState(t, "Ready{1}", enginetest.IsReady(1))
}
