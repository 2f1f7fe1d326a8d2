package lifecyclememberlist_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestHealthAtItsWorstIsFailedAndItsRecoveryReady(t *testing.T) {
	// With AwarenessMaxMultiplier 2 the worst score is 1: one probe that
	// nobody answers, not even with a nack. That is what a node sees when
	// its only peer dies, and it stays so while it is alone.
	a := start(t, "a", setup{
		conf: func(c *memberlist.Config) { c.AwarenessMaxMultiplier = 2 },
		opts: []lifecyclememberlist.Option{lifecyclememberlist.WithHealthTimeout(time.Second)},
	})
	if err := a.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	b := start(t, "b", setup{})
	if err := b.obs.Join(t.Context(), []string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, otellifecycle.ReadyState(2))

	died := time.Now()
	if err := b.obs.Memberlist().Shutdown(); err != nil {
		t.Fatal(err)
	}
	at := waitFailed(t, a)
	t.Logf("a: Failed %v after its only peer died", at.Sub(died).Round(time.Millisecond))
	if got := a.tr.Current().Reason; !strings.Contains(got, "health score at its worst (1) for longer than 1s") {
		t.Fatalf("reason %q, want the health score named", got)
	}
	if at.Sub(died) < time.Second {
		t.Fatalf("Failed %v after the peer died, before the 1s health timeout", at.Sub(died))
	}
	testsupport.WantStateGauge(t, a.reader, otellifecycle.Failed)

	// A new peer answers a's probes: its score gets better, it is Ready.
	c := start(t, "c", setup{})
	if err := c.obs.Join(t.Context(), []string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, otellifecycle.ReadyState(2))
	h := a.tr.History()
	if last := h[len(h)-1]; last.From.Phase != otellifecycle.Failed {
		t.Fatalf("a: Ready{2} came from %v, want from the health failure", last.From)
	}
	testsupport.WantStateGauge(t, a.reader, otellifecycle.Ready)
}

func TestHealthTimeoutZeroTurnsTheCheckOff(t *testing.T) {
	a := start(t, "a", setup{
		conf: func(c *memberlist.Config) { c.AwarenessMaxMultiplier = 2 },
		opts: []lifecyclememberlist.Option{lifecyclememberlist.WithHealthTimeout(0)},
	})
	if err := a.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	b := start(t, "b", setup{})
	if err := b.obs.Join(t.Context(), []string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, otellifecycle.ReadyState(2))
	if err := b.obs.Memberlist().Shutdown(); err != nil {
		t.Fatal(err)
	}

	// a is alone, at its worst score, for good; with the check on it would
	// be Failed after the timeout (see the test above).
	waitFor(t, a, otellifecycle.ReadyState(1))
	testsupport.Eventually(t, "a's health score at its worst", within, func() bool { return a.obs.Memberlist().GetHealthScore() >= 1 })
	time.Sleep(500 * time.Millisecond)
	assertTail(t, a, otellifecycle.ReadyState(2), otellifecycle.ReadyState(1))
	testsupport.WantStateGauge(t, a.reader, otellifecycle.Ready)
}
