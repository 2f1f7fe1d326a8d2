package sdnotify_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestWatchdogPingsAtHalfTheIntervalAndPausesWhileFailed(t *testing.T) {
	ctx := t.Context()
	name, conn := listen(t, false)
	t.Setenv("WATCHDOG_USEC", "100000") // 100ms: pings every 50ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	tr, err := otellifecycle.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sink := sdnotify.New(sdnotify.WithSocket(name))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started, err := sink.StartWatchdog(wctx, tr.IsLive)
	if !started || err != nil {
		t.Fatalf("StartWatchdog = %v, %v", started, err)
	}
	for range 3 {
		if got := read(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("datagram %q, want WATCHDOG=1", got)
		}
	}
	tr.ToFailed(ctx, "wedged")
	// Drain a ping that may have raced the transition, then expect silence.
	time.Sleep(60 * time.Millisecond)
	drain(conn)
	noDatagramFor(t, conn, 200*time.Millisecond)
	tr.ToJoining(ctx, 0) // recovered: pings resume
	if got := read(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("after recovery: %q", got)
	}
	cancel()
	time.Sleep(60 * time.Millisecond)
	drain(conn)
	noDatagramFor(t, conn, 200*time.Millisecond)
}

func TestWatchdogOffWithoutWatchdogUsec(t *testing.T) {
	ctx := t.Context()
	t.Setenv("WATCHDOG_USEC", "")
	sink := sdnotify.New(sdnotify.WithSocket("@unused"))
	tr, _ := otellifecycle.New()
	defer tr.Close()
	if started, err := sink.StartWatchdog(ctx, tr.IsLive); started || err != nil {
		t.Fatalf("StartWatchdog = %v, %v; want false, nil", started, err)
	}
	t.Setenv("WATCHDOG_USEC", "soon")
	if started, err := sink.StartWatchdog(ctx, tr.IsLive); started || err == nil {
		t.Fatalf("StartWatchdog with a bad WATCHDOG_USEC = %v, %v; want false and an error", started, err)
	}
}

// The watchdog asks only "is it live?": any func() bool will do, so a
// service can feed it its own health, not only a tracker's IsLive.
func TestWatchdogPingsWhileTheGivenFunctionSaysLive(t *testing.T) {
	name, conn := listen(t, false)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var live atomic.Bool // not live until said so
	sink := sdnotify.New(sdnotify.WithSocket(name))
	wctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); time.Sleep(60 * time.Millisecond) }()
	if started, err := sink.StartWatchdog(wctx, live.Load); !started || err != nil {
		t.Fatalf("StartWatchdog = %v, %v", started, err)
	}
	noDatagramFor(t, conn, 200*time.Millisecond)
	live.Store(true)
	if got := read(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("datagram %q, want WATCHDOG=1", got)
	}
}

// A nil liveness function is a mistake, reported at once, wherever the
// program runs: not only under a systemd unit with WatchdogSec=.
func TestWatchdogWithoutALivenessFunctionIsAnError(t *testing.T) {
	for _, usec := range []string{"", "100000"} {
		t.Setenv("WATCHDOG_USEC", usec)
		sink := sdnotify.New(sdnotify.WithSocket("@unused"))
		if started, err := sink.StartWatchdog(t.Context(), nil); started || err == nil {
			t.Fatalf("WATCHDOG_USEC=%q: StartWatchdog(ctx, nil) = %v, %v; want false and an error", usec, started, err)
		}
	}
}

func drain(conn interface {
	SetReadDeadline(time.Time) error
	Read([]byte) (int, error)
}) {
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

func noDatagramFor(t *testing.T, conn interface {
	SetReadDeadline(time.Time) error
	Read([]byte) (int, error)
}, d time.Duration) {
	t.Helper()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("unexpected datagram %q", buf[:n])
	}
}
