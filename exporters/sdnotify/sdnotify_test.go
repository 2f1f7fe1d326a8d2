package sdnotify_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// listen stands up a real NOTIFY_SOCKET: a unixgram socket at a path in a
// temporary directory, or in the abstract namespace when abstract is true.
func listen(t *testing.T, abstract bool) (string, *net.UnixConn) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = fmt.Sprintf("@lifecycle-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return name, conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

func transition(seq uint64, from, to otellifecycle.State) otellifecycle.Transition {
	return otellifecycle.Transition{Seq: seq, From: from, To: to, Detail: to.Detail(), At: time.Now()}
}

func TestDatagramsPerTransition(t *testing.T) {
	ctx := t.Context()
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			name, conn := listen(t, abstract)
			sink := sdnotify.New(sdnotify.WithSocket(name))
			steps := []step{
				{otellifecycle.RestartingState(), "STATUS=restart"},
				{otellifecycle.JoiningState(2), "STATUS=joining cluster (attempt 2)"},
				{otellifecycle.ReadyState(3), "STATUS=ready (3 nodes)\nREADY=1"},
				{otellifecycle.FailedState("lost quorum"), "STATUS=failed: lost quorum"},
				{otellifecycle.ReadyState(3), "STATUS=ready (3 nodes)"}, // READY=1 only the first time
				{otellifecycle.DrainingState(), "STATUS=draining"},
				{otellifecycle.StoppingState(), "STATUS=stopping\nSTOPPING=1"},
			}
			from := otellifecycle.StartingState()
			for i, s := range steps {
				if err := sink.Notify(ctx, transition(uint64(i+1), from, s.to)); err != nil {
					t.Fatal(err)
				}
				if got := read(t, conn); got != s.want {
					t.Fatalf("after %v: datagram %q, want %q", s.to, got, s.want)
				}
				from = s.to
			}
		})
	}
}

// A bootstrap that pings its seeds is as slow as a join: both ask systemd
// for more start-up time, on every entry, and no other phase does.
func TestExtendTimeoutWhileBootstrappingOrJoining(t *testing.T) {
	name, conn := listen(t, false)
	sink := sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithExtendTimeout(90*time.Second))
	steps := []step{
		{otellifecycle.BootstrappingState(), "STATUS=bootstrapping new cluster\nEXTEND_TIMEOUT_USEC=90000000"},
		{otellifecycle.JoiningState(0), "STATUS=joining cluster (attempt 0)\nEXTEND_TIMEOUT_USEC=90000000"},
		{otellifecycle.JoiningState(1), "STATUS=joining cluster (attempt 1)\nEXTEND_TIMEOUT_USEC=90000000"},
		{otellifecycle.ReadyState(1), "STATUS=ready (1 nodes)\nREADY=1"},
		{otellifecycle.FailedState("x"), "STATUS=failed: x"},
		{otellifecycle.BootstrappingState(), "STATUS=bootstrapping new cluster\nEXTEND_TIMEOUT_USEC=90000000"},
		{otellifecycle.RestartingState(), "STATUS=restart"},
	}
	expectDatagrams(t, sink, conn, steps)
}

// WithWatchdogTrigger: entering Failed asks systemd for the watchdog
// action at once, in the same datagram as the failure's STATUS=, so the
// journal's "Watchdog request (last status: …)" names the reason. Every
// entry into Failed carries it; no other phase does.
func TestWatchdogTriggerRidesWithTheFailedStatus(t *testing.T) {
	name, conn := listen(t, false)
	sink := sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithWatchdogTrigger())
	steps := []step{
		{otellifecycle.JoiningState(0), "STATUS=joining cluster (attempt 0)"},
		{otellifecycle.FailedState("seeds unreachable"), "STATUS=failed: seeds unreachable\nWATCHDOG=trigger"},
		{otellifecycle.ReadyState(3), "STATUS=ready (3 nodes)\nREADY=1"},
		{otellifecycle.FailedState("lost quorum"), "STATUS=failed: lost quorum\nWATCHDOG=trigger"},
		{otellifecycle.StoppingState(), "STATUS=stopping\nSTOPPING=1"},
	}
	expectDatagrams(t, sink, conn, steps)
}

// STOPPING=1 is final in systemd (since 259): the sink sends it once, and
// never READY=1 after it, whatever the tracker does next.
func TestStoppingIsSentOnceAndIsFinal(t *testing.T) {
	name, conn := listen(t, false)
	sink := sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithExtendTimeout(time.Minute), sdnotify.WithWatchdogTrigger())
	steps := []step{
		{otellifecycle.StoppingState(), "STATUS=stopping\nSTOPPING=1"},
		// After STOPPING=1 only the status: an extension would stretch the
		// stop timeout, a trigger would abort a unit already stopping.
		{otellifecycle.JoiningState(0), "STATUS=joining cluster (attempt 0)"},
		{otellifecycle.BootstrappingState(), "STATUS=bootstrapping new cluster"},
		{otellifecycle.FailedState("late"), "STATUS=failed: late"},
		{otellifecycle.ReadyState(3), "STATUS=ready (3 nodes)"}, // the first Ready, but after STOPPING=1
		{otellifecycle.StoppingState(), "STATUS=stopping"},
	}
	expectDatagrams(t, sink, conn, steps)
}

// A reason can hold anything; a datagram carries only the lines the sink
// means, and never more than 4096 bytes, with every option on.
func TestHostileDetailNeverAddsALineOrOverflows(t *testing.T) {
	ctx := t.Context()
	hostile := []string{
		"x\nREADY=1",
		"x\r\nSTOPPING=1\x00WATCHDOG=1",
		"x=y\nWATCHDOG=1",
		strings.Repeat("é", 10000),
		strings.Repeat("a", 1<<20),
		"\xff\xfe\nMAINPID=1",
	}
	for _, c := range []struct {
		name  string
		opts  []sdnotify.Option
		lines []string // what follows the STATUS= line
	}{
		{"plain", nil, nil},
		{"every option", []sdnotify.Option{sdnotify.WithWatchdogTrigger(), sdnotify.WithExtendTimeout(time.Minute)}, []string{"WATCHDOG=trigger"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, conn := listen(t, false)
			sink := sdnotify.New(append([]sdnotify.Option{sdnotify.WithSocket(name)}, c.opts...)...)
			for i, h := range hostile {
				// Both as the tracker would hand it over (normalized) and raw,
				// as a Transition built by hand could.
				for _, tr := range []otellifecycle.Transition{
					transition(uint64(i), otellifecycle.StartingState(), otellifecycle.FailedState(h)),
					{Seq: uint64(i), To: otellifecycle.State{Phase: otellifecycle.Failed, Reason: h}, Detail: "failed: " + h},
				} {
					_ = sink.Notify(ctx, tr)
					got := read(t, conn)
					if len(got) > 4096 {
						t.Fatalf("datagram of %d bytes", len(got))
					}
					lines := strings.Split(got, "\n")
					if len(lines) != 1+len(c.lines) || !strings.HasPrefix(lines[0], "STATUS=failed: ") || strings.ContainsAny(got, "\r\x00") ||
						strings.Join(lines[1:], "\n") != strings.Join(c.lines, "\n") {
						t.Fatalf("datagram %q…%q", got[:min(len(got), 80)], got[max(0, len(got)-40):])
					}
				}
			}
		})
	}
}

func TestWithoutNotifySocketNothingHappens(t *testing.T) {
	ctx := t.Context()
	t.Setenv("NOTIFY_SOCKET", "")
	sink := sdnotify.New()
	if sink.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := sink.Notify(ctx, transition(1, otellifecycle.StartingState(), otellifecycle.ReadyState(1))); err != nil {
		t.Fatal(err)
	}
}

func TestNewReadsNotifySocketFromTheEnvironment(t *testing.T) {
	ctx := t.Context()
	name, conn := listen(t, false)
	t.Setenv("NOTIFY_SOCKET", name)
	sink := sdnotify.New()
	if !sink.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	_ = sink.Notify(ctx, transition(1, otellifecycle.StartingState(), otellifecycle.BootstrappingState()))
	if got := read(t, conn); got != "STATUS=bootstrapping new cluster" {
		t.Fatalf("datagram %q", got)
	}
}

func TestUnreachableSocketIsReportedOnce(t *testing.T) {
	ctx := t.Context()
	errs := testsupport.CaptureOTelErrors(t)

	notASocket := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(notASocket, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{filepath.Join(t.TempDir(), "nothing-here"), notASocket} {
		before := errs.Len()
		sink := sdnotify.New(sdnotify.WithSocket(target))
		for i := range 20 {
			if err := sink.Notify(ctx, transition(uint64(i), otellifecycle.StartingState(), otellifecycle.JoiningState(uint32(i)))); err != nil {
				t.Fatalf("Notify returned %v; the sink reports its own failures", err)
			}
		}
		if n := errs.Len() - before; n != 1 {
			t.Fatalf("%s: reported %d times, want once", target, n)
		}
	}
}

// A receiver that never reads fills its queue; sends then time out instead
// of parking the sink forever.
func TestReceiverThatNeverReadsDoesNotWedgeTheSink(t *testing.T) {
	ctx := t.Context()
	errs := testsupport.CaptureOTelErrors(t)
	name, _ := listen(t, false)
	sink := sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithWriteTimeout(5*time.Millisecond))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// More than a socket's queue holds (net.unix.max_dgram_qlen is
		// 10 by default; some systems raise it to 512).
		for i := range 600 {
			_ = sink.Notify(ctx, transition(uint64(i), otellifecycle.StartingState(), otellifecycle.JoiningState(uint32(i))))
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the sink is wedged on a full socket")
	}
	if n := errs.Len(); n != 1 {
		t.Fatalf("a full socket was reported %d times, want once", n)
	}
}

func TestWiredToATrackerEveryTransitionArrives(t *testing.T) {
	ctx := t.Context()
	name, conn := listen(t, false)
	tr, err := otellifecycle.New(otellifecycle.WithSinks(sdnotify.New(sdnotify.WithSocket(name))))
	if err != nil {
		t.Fatal(err)
	}
	tr.ToJoining(ctx, 0)
	tr.ToReady(ctx, 2)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// The first datagram is the initial state: systemd shows "starting"
	// from the moment the sink is attached, before any transition.
	for _, want := range []string{"STATUS=starting", "STATUS=joining cluster (attempt 0)", "STATUS=ready (2 nodes)\nREADY=1"} {
		if got := read(t, conn); got != want {
			t.Fatalf("datagram %q, want %q", got, want)
		}
	}
}

// Wired to a tracker, a socket whose receiver never reads costs nothing
// but the sink's own deliveries: transitions go on, the other sinks get
// every transition in order, and the failure is reported once.
func TestWedgedSocketLeavesTheTrackerAndOtherSinksAlone(t *testing.T) {
	ctx := t.Context()
	errs := testsupport.CaptureOTelErrors(t)
	name, _ := listen(t, false) // never read
	var mu sync.Mutex
	var got []uint64
	other := otellifecycle.SinkFunc(func(_ context.Context, tr otellifecycle.Transition) error {
		mu.Lock()
		got = append(got, tr.Seq)
		mu.Unlock()
		return nil
	})
	tr, err := otellifecycle.New(otellifecycle.WithSinks(sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithWriteTimeout(5*time.Millisecond)), other),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	start := time.Now()
	for i := range n {
		tr.ToJoining(ctx, uint32(i))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("%d transitions took %v behind a wedged socket", n, d)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 || got[0] != 0 || got[n] != n { // the initial state, then every transition
		t.Fatalf("the other sink got %d notifications", len(got))
	}
	if c := errs.Len(); c != 1 {
		t.Fatalf("reported %d times, want once", c)
	}
}

// step is a transition to a state and the datagram it must send.
type step struct {
	to   otellifecycle.State
	want string
}

// expectDatagrams drives sink from Starting through steps, in order, and
// checks each datagram read from conn.
func expectDatagrams(t *testing.T, sink *sdnotify.Sink, conn *net.UnixConn, steps []step) {
	t.Helper()
	from := otellifecycle.StartingState()
	for i, s := range steps {
		_ = sink.Notify(t.Context(), transition(uint64(i+1), from, s.to))
		if got := read(t, conn); got != s.want {
			t.Fatalf("after %v: datagram %q, want %q", s.to, got, s.want)
		}
		from = s.to
	}
}
