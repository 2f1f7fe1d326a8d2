package otellifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestNewTrackerStartsInStartingAtSeqZero(t *testing.T) {
	tr := newTracker(t)
	if got := tr.Current(); got != otellifecycle.StartingState() {
		t.Fatalf("Current() = %v, want starting", got)
	}
	if tr.IsReady() || tr.Stats().Transitions != 0 || len(tr.History()) != 0 {
		t.Fatalf("fresh tracker: ready=%v stats=%+v history=%v", tr.IsReady(), tr.Stats(), tr.History())
	}
}

// Operators force-bootstrap after failures, so every phase may follow
// every phase, including itself.
func TestFailedIsNotTerminalByContract(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	tr.ToJoining(ctx, 5)
	tr.ToFailed(ctx, "seeds unreachable")
	tr.ToReady(ctx, 3)
	if got := tr.Current(); got != otellifecycle.ReadyState(3) || !tr.IsReady() {
		t.Fatalf("after Joining{5} → Failed → Ready{3}: %v", got)
	}
	tr.ToJoining(ctx, 3)
	tr.ToFailed(ctx, "x")
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	if got := tr.Current(); got != otellifecycle.ReadyState(3) {
		t.Fatalf("after Joining{3} → Failed → Joining{0} → Ready{3}: %v", got)
	}
}

func TestEveryPhaseMayFollowEveryPhase(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	states := []otellifecycle.State{
		otellifecycle.StartingState(), otellifecycle.RestartingState(), otellifecycle.BootstrappingState(),
		otellifecycle.JoiningState(2), otellifecycle.ReadyState(3), otellifecycle.DrainingState(),
		otellifecycle.StoppingState(), otellifecycle.FailedState("r"),
	}
	for _, from := range states {
		for _, to := range states {
			if err := tr.Set(ctx, from); err != nil {
				t.Fatalf("Set(%v): %v", from, err)
			}
			if err := tr.Set(ctx, to); err != nil {
				t.Fatalf("%v → %v: %v", from, to, err)
			}
			if got := tr.Current(); got != to {
				t.Fatalf("%v → %v left %v", from, to, got)
			}
		}
	}
}

func TestSeqHasNoGapsAndEachFromIsThePreviousTo(t *testing.T) {
	ctx := t.Context()
	const goroutines, each = 8, 2000
	tr := newTracker(t)
	sub, cancel := tr.Subscribe(goroutines * each)
	defer cancel()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				switch i % 4 {
				case 0:
					tr.ToJoining(ctx, uint32(g))
				case 1:
					tr.ToReady(ctx, g+1)
				case 2:
					tr.ToFailed(ctx, fmt.Sprint("g", g))
				default: // no two goroutines set the same state, which would be no transition
					tr.ToJoining(ctx, uint32(goroutines+g))
				}
			}
		}()
	}
	wg.Wait()
	prev := otellifecycle.StartingState()
	for want := uint64(1); want <= goroutines*each; want++ {
		got := <-sub
		if got.Seq != want {
			t.Fatalf("transition %d has Seq %d", want, got.Seq)
		}
		if got.From != prev {
			t.Fatalf("Seq %d: From = %v, want the previous To %v", got.Seq, got.From, prev)
		}
		if got.Detail != got.To.Detail() {
			t.Fatalf("Seq %d: Detail %q, want %q", got.Seq, got.Detail, got.To.Detail())
		}
		prev = got.To
	}
	if tr.Current() != prev || tr.Stats().Transitions != goroutines*each || tr.Stats().SubscriberDropped != 0 {
		t.Fatalf("final state %v, stats %+v", tr.Current(), tr.Stats())
	}
}

func TestHistoryIsBoundedOrderedAndTimed(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t, otellifecycle.WithHistory(3), otellifecycle.WithClock(stepClock(time.Second)))
	for i := range 10 {
		tr.ToJoining(ctx, uint32(i))
	}
	h := tr.History()
	if len(h) != 3 {
		t.Fatalf("history holds %d transitions, want 3", len(h))
	}
	for i, x := range h {
		attempt := uint32(7 + i)
		if x.Seq != uint64(8+i) || x.To != otellifecycle.JoiningState(attempt) {
			t.Fatalf("history[%d] = Seq %d %v, want Seq %d joining(%d)", i, x.Seq, x.To, 8+i, attempt)
		}
		if x.InPhase != time.Second || !x.At.Equal(epoch.Add(time.Duration(8+i)*time.Second)) {
			t.Fatalf("history[%d]: At %v InPhase %v", i, x.At, x.InPhase)
		}
	}
	if got := len(newTracker(t, otellifecycle.WithHistory(0)).History()); got != 0 {
		t.Fatalf("WithHistory(0) kept %d", got)
	}
}

func TestWaitReadyReturnsOnReady(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	done := make(chan otellifecycle.State, 1)
	go func() {
		s, err := tr.WaitReady(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	select {
	case s := <-done:
		if s != otellifecycle.ReadyState(3) {
			t.Fatalf("WaitReady = %v, want ready(3)", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitReady did not return")
	}
}

func TestWaitSeesAStateThatLastedNoTimeAtAll(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	checked := make(chan struct{}) // closed once Wait has checked the current state
	var once sync.Once
	done := make(chan otellifecycle.State, 1)
	go func() {
		s, err := tr.Wait(ctx, func(s otellifecycle.State) bool {
			once.Do(func() { close(checked) })
			return s.IsReady()
		})
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	<-checked // from here on, Wait checks every new state as it is entered
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 3)
	tr.ToDraining(ctx) // Ready lasted no time at all: Wait still saw it
	select {
	case s := <-done:
		if s != otellifecycle.ReadyState(3) {
			t.Fatalf("Wait = %v, want ready(3)", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
}

func TestWaitReadyReturnsTheContextErrorOnCancel(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	c, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	s, err := tr.WaitReady(c)
	if !errors.Is(err, context.Canceled) || s != otellifecycle.StartingState() {
		t.Fatalf("WaitReady = %v, %v; want starting, context.Canceled", s, err)
	}
}

func TestWaitWithAPredicate(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	go func() {
		for i := range 5 {
			tr.ToJoining(ctx, uint32(i))
		}
	}()
	s, err := tr.Wait(ctx, func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Joining && s.Attempt >= 3 })
	if err != nil || s != otellifecycle.JoiningState(3) {
		t.Fatalf("Wait = %v, %v; want joining(3)", s, err)
	}
}

func TestCloseTwiceIsFineAndEndsEverything(t *testing.T) {
	ctx := t.Context()
	tr, err := otellifecycle.New(otellifecycle.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tr.Subscribe(1)
	waitErr := make(chan error, 1)
	go func() { _, err := tr.WaitReady(ctx); waitErr <- err }()
	tr.ToJoining(ctx, 0)
	if err := tr.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-waitErr; !errors.Is(err, otellifecycle.ErrClosed) {
		t.Fatalf("WaitReady across Close = %v, want ErrClosed", err)
	}
	if err := tr.Set(ctx, otellifecycle.ReadyState(1)); !errors.Is(err, otellifecycle.ErrClosed) {
		t.Fatalf("Set after Close = %v, want ErrClosed", err)
	}
	tr.ToReady(ctx, 1) // ignored, no panic
	if got := tr.Current(); got != otellifecycle.JoiningState(0) {
		t.Fatalf("state changed after Close: %v", got)
	}
	<-sub // the buffered transition
	if _, ok := <-sub; ok {
		t.Fatal("subscription still open after Close")
	}
}

func TestPolicyRejectsAndReports(t *testing.T) {
	ctx := t.Context()
	errs := testsupport.CaptureOTelErrors(t)
	noReadyFromFailed := func(from, to otellifecycle.State) error {
		if from.Phase == otellifecycle.Failed && to.Phase == otellifecycle.Ready {
			return errors.New("must rejoin first")
		}
		return nil
	}
	var logs bytes.Buffer
	tr := newTracker(t, otellifecycle.WithTransitionPolicy(noReadyFromFailed),
		otellifecycle.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	tr.ToFailed(ctx, "boom")
	err := tr.Set(ctx, otellifecycle.ReadyState(3))
	if err == nil || !strings.Contains(err.Error(), "failed → ready rejected: must rejoin first") {
		t.Fatalf("Set = %v", err)
	}
	tr.ToReady(ctx, 3)
	if tr.Current().Phase != otellifecycle.Failed || tr.Stats().Rejected != 2 || len(tr.History()) != 1 {
		t.Fatalf("rejected transition changed things: %v %+v", tr.Current(), tr.Stats())
	}
	if n := len(errs.All()); n != 2 {
		t.Fatalf("otel.Handle got %d errors, want 2", n)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"cluster lifecycle transition rejected"`) {
		t.Fatalf("no WARN record: %s", logs.String())
	}
}

func TestSetRejectsInvalidStates(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	for _, s := range []otellifecycle.State{{Phase: "exploded"}, {Phase: otellifecycle.Draining, Nodes: 2}, {Phase: otellifecycle.Ready, Nodes: -1}} {
		if err := tr.Set(ctx, s); err == nil {
			t.Errorf("Set(%#v) = nil", s)
		}
	}
	if tr.Stats().Transitions != 0 {
		t.Fatal("an invalid state was entered")
	}
	// A reason given to Set is normalized like ToFailed's.
	if err := tr.Set(ctx, otellifecycle.State{Phase: otellifecycle.Failed, Reason: "a\nREADY=1"}); err != nil {
		t.Fatal(err)
	}
	if got := tr.Current().Reason; got != "a READY=1" {
		t.Fatalf("reason = %q", got)
	}
}

func TestInvalidOptionsNameTheOption(t *testing.T) {
	cases := []struct {
		opt  otellifecycle.Option
		want string
	}{
		{otellifecycle.WithHistory(-1), "WithHistory: n must be between 0 and 65536, got -1"},
		{otellifecycle.WithSinkQueue(0), "WithSinkQueue"},
		{otellifecycle.WithCloseTimeout(0), "WithCloseTimeout"},
		{otellifecycle.WithMetricName(""), "WithMetricName"},
		{otellifecycle.WithMetricName("9lives"), "WithMetricName"},
		{otellifecycle.WithStateAttributeKey(""), "WithStateAttributeKey"},
		{otellifecycle.WithSinks(nil), "WithSinks: sink 0 is nil"},
		{otellifecycle.WithAttributes(attribute.String("", "x")), "WithAttributes"},
		{otellifecycle.WithAttributes(attribute.String("state", "x")), `key "state" is the state attribute key`},
	}
	for _, c := range cases {
		tr, err := otellifecycle.New(c.opt)
		if err == nil {
			_ = tr.Close()
			t.Errorf("New accepted an option that should fail with %q", c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "otellifecycle: ") {
			t.Errorf("New error %q, want it to contain %q", err, c.want)
		}
	}
	// A renamed state key frees "state" for WithAttributes.
	tr := newTracker(t, otellifecycle.WithStateAttributeKey("phase"), otellifecycle.WithAttributes(attribute.String("state", "CA")))
	_ = tr
}

// One INFO record per transition, after one for the initial state (seq 0),
// logged as what it is, not as a transition, so the log says "starting"
// from its first line; each carries WithAttributes, as spans and
// OpenTelemetry log records do.
func TestOneINFORecordPerTransition(t *testing.T) {
	ctx := t.Context()
	var buf bytes.Buffer
	tr := newTracker(t, otellifecycle.WithAttributes(attribute.String("node.id", "n1"), attribute.Int("shard", 7)),
		otellifecycle.WithLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))))
	tr.ToJoining(ctx, 1)
	tr.ToFailed(ctx, "two\nlines \"quoted\"")
	want := `{"level":"INFO","msg":"cluster lifecycle initial state","state":"starting","detail":"starting","seq":0,"node.id":"n1","shard":7}
{"level":"INFO","msg":"cluster lifecycle transition","prev":"starting","new":"joining","detail":"joining cluster (attempt 1)","seq":1,"node.id":"n1","shard":7}
{"level":"INFO","msg":"cluster lifecycle transition","prev":"joining","new":"failed","detail":"failed: two lines \"quoted\"","seq":2,"node.id":"n1","shard":7}
`
	if buf.String() != want {
		t.Fatalf("log =\n%s\nwant\n%s", buf.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("invalid JSON record: %s", line)
		}
	}
}

func TestToReadyTakesANegativeCountAsZero(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	tr.ToReady(ctx, -4)
	if got := tr.Current(); got != otellifecycle.ReadyState(0) {
		t.Fatalf("Current() = %#v", got)
	}
}

// The read path is one atomic load; a change that makes it allocate fails
// here, not only in a benchmark.
func TestReadPathDoesNotAllocate(t *testing.T) {
	ctx := t.Context()
	tr := newTracker(t)
	tr.ToReady(ctx, 3)
	var s otellifecycle.State
	var ok bool
	if n := testing.AllocsPerRun(1000, func() { s = tr.Current(); ok = tr.IsReady() }); n != 0 {
		t.Fatalf("Current+IsReady allocate %v times per call", n)
	}
	_, _ = s, ok
}

func TestTheSameStateTwiceIsOneFact(t *testing.T) {
	ctx := t.Context()
	rec := &recorder{}
	tr := newTracker(t, otellifecycle.WithSinks(rec), otellifecycle.WithClock(stepClock(time.Second)))
	tr.ToReady(ctx, 3)
	tr.ToReady(ctx, 3) // the same state again: nothing
	tr.ToStopping(ctx) // the service says it is stopping…
	tr.ToStopping(ctx) // …and so does the engine module it runs on
	if err := tr.Set(ctx, otellifecycle.StoppingState()); err != nil {
		t.Fatalf("Set of the current state = %v, want nil", err)
	}
	if s := tr.Stats(); s.Transitions != 2 || s.Rejected != 0 {
		t.Fatalf("Stats = %+v, want 2 transitions and no rejection", s)
	}
	h := tr.History()
	if len(h) != 2 || h[0].To != otellifecycle.ReadyState(3) || h[1].From != otellifecycle.ReadyState(3) || h[1].To != otellifecycle.StoppingState() {
		t.Fatalf("history %+v, want starting → ready (3 nodes) → stopping", h)
	}
	tr.ToReady(ctx, 4) // a different payload is a transition
	if got := tr.Stats().Transitions; got != 3 {
		t.Fatalf("after Ready{4}: %d transitions, want 3", got)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, x := range rec.transitions() {
		seqs = append(seqs, x.Seq)
	}
	if !slices.Equal(seqs, []uint64{0, 1, 2, 3}) {
		t.Fatalf("the sink got Seqs %v, want [0 1 2 3]", seqs)
	}
}
