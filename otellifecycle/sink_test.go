package otellifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestSinksGetEveryTransitionInSeqOrder(t *testing.T) {
	ctx := t.Context()
	const n = 5000
	rec := &recorder{}
	tr := newTracker(t, otellifecycle.WithSinks(rec), otellifecycle.WithSinkQueue(n+1)) // room for all, however slow the sink
	for i := range n {
		tr.ToJoining(ctx, uint32(i))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	got := rec.transitions()
	if len(got) != n+1 {
		t.Fatalf("sink got %d transitions, want the initial state and %d (stats %+v)", len(got), n, tr.Stats())
	}
	if start := otellifecycle.StartingState(); got[0].Seq != 0 || got[0].From != start || got[0].To != start || got[0].Detail != "starting" {
		t.Fatalf("the sink's first notification is %+v, want the initial state as Seq 0", got[0])
	}
	for i, x := range got[1:] {
		if x.Seq != uint64(i+1) || x.To != otellifecycle.JoiningState(uint32(i)) {
			t.Fatalf("sink transition %d = Seq %d %v", i, x.Seq, x.To)
		}
	}
}

// A subscriber that never reads and a sink that never returns cannot hold
// up the service: 100,000 transitions go through.
func TestStuckSinkAndDeafSubscriberDoNotStopTransitions(t *testing.T) {
	ctx := t.Context()
	const n = 100_000
	release := make(chan struct{})
	defer close(release)
	stuck := otellifecycle.SinkFunc(func(ctx context.Context, _ otellifecycle.Transition) error {
		select { // blocks until Close gives up on it (or the test ends)
		case <-ctx.Done():
		case <-release:
		}
		return ctx.Err()
	})
	rec := &recorder{}
	tr, err := otellifecycle.New(otellifecycle.WithLogger(quiet),
		otellifecycle.WithSinks(stuck, rec),
		otellifecycle.WithSinkQueue(64),
		otellifecycle.WithCloseTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, cancel := tr.Subscribe(8)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			tr.ToJoining(ctx, uint32(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("transitions blocked behind a stuck sink or a deaf subscriber")
	}
	st := tr.Stats()
	if st.Transitions != n || st.SubscriberDropped != n-8 {
		t.Fatalf("stats %+v", st)
	}
	// The stuck sink holds one transition and its 64 newest; the rest were
	// dropped and counted.
	if st.SinkDropped < n-64-1-64 {
		t.Fatalf("SinkDropped = %d, want about %d", st.SinkDropped, n-65)
	}
	err = tr.Close()
	if err == nil || !strings.Contains(err.Error(), "sinks still delivering after 200ms: [otellifecycle.SinkFunc]") {
		t.Fatalf("Close = %v, want it to name the stuck sink", err)
	}
	// The healthy sink's last transition is the last one made.
	got := rec.transitions()
	if len(got) == 0 || got[len(got)-1].Seq != n {
		t.Fatalf("healthy sink ended at %v", got[len(got)-1].Seq)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("healthy sink out of order at %d: %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

func TestPanickingOrFailingSinkDoesNotStopTheOthers(t *testing.T) {
	ctx := t.Context()
	errs := testsupport.CaptureOTelErrors(t)
	panicky := otellifecycle.SinkFunc(func(context.Context, otellifecycle.Transition) error { panic("sink bug") })
	failing := otellifecycle.SinkFunc(func(context.Context, otellifecycle.Transition) error { return errors.New("disk full") })
	rec := &recorder{}
	tr := newTracker(t, otellifecycle.WithSinks(panicky, failing, rec))
	const n = 100
	for i := range n {
		tr.ToJoining(ctx, uint32(i))
	}
	tr.ToReady(ctx, 3)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// Each sink gets the initial state and n+1 transitions.
	if got := rec.transitions(); len(got) != n+2 || got[n+1].To != otellifecycle.ReadyState(3) {
		t.Fatalf("healthy sink got %d notifications", len(got))
	}
	if st := tr.Stats(); st.SinkFailures != 2*(n+2) || st.SinkDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	var panics, failures int
	for _, err := range errs.All() {
		switch {
		case strings.Contains(err.Error(), "panicked on transition") && strings.Contains(err.Error(), "sink bug"):
			panics++
		case strings.Contains(err.Error(), "failed on transition") && strings.Contains(err.Error(), "disk full"):
			failures++
		}
	}
	if panics != n+2 || failures != n+2 {
		t.Fatalf("otel.Handle got %d panics and %d failures, want %d each", panics, failures, n+2)
	}
}

func TestSinkContextKeepsValuesButNotCancellation(t *testing.T) {
	ctx := t.Context()
	got := make(chan context.Context, 1)
	tr := newTracker(t, otellifecycle.WithSinks(otellifecycle.SinkFunc(func(ctx context.Context, tr otellifecycle.Transition) error {
		if tr.Seq > 0 { // not the initial state, which no caller's context carries
			got <- ctx
		}
		return nil
	})))
	m, _ := baggage.NewMember("shard", "7")
	b, _ := baggage.New(m)
	c, cancel := context.WithCancel(baggage.ContextWithBaggage(ctx, b))
	tr.ToBootstrapping(c)
	cancel()
	sctx := <-got
	if v := baggage.FromContext(sctx).Member("shard").Value(); v != "7" {
		t.Fatalf("sink lost the caller's values: shard=%q", v)
	}
	if sctx.Err() != nil {
		t.Fatal("sink context cancelled with the caller's")
	}
}
