package sdnotify_test

import (
	"strings"
	"testing"

	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// FuzzDatagram: whatever the reason, and whether or not the tracker
// normalized it, the datagram is one STATUS= line and nothing else (or,
// WithWatchdogTrigger, that line and WATCHDOG=trigger), at most 4096 bytes.
func FuzzDatagram(f *testing.F) {
	ctx := f.Context()
	for _, r := range []string{"", "timeout", "\nREADY=1", "a\r\nSTOPPING=1", "nul\x00WATCHDOG=1", "\xff\xfe",
		strings.Repeat("é", 3000), strings.Repeat("x", 1<<20), "STATUS=ready\nMAINPID=1", "x=y\nWATCHDOG=trigger"} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, reason string) {
		name, conn := listen(t, false)
		plain := sdnotify.New(sdnotify.WithSocket(name))
		trigger := sdnotify.New(sdnotify.WithSocket(name), sdnotify.WithWatchdogTrigger())
		for _, tr := range []otellifecycle.Transition{
			transition(1, otellifecycle.StartingState(), otellifecycle.FailedState(reason)),
			{Seq: 2, To: otellifecycle.State{Phase: otellifecycle.Failed, Reason: reason}, Detail: "failed: " + reason},
		} {
			for _, c := range []struct {
				sink *sdnotify.Sink
				tail string
			}{{plain, ""}, {trigger, "\nWATCHDOG=trigger"}} {
				_ = c.sink.Notify(ctx, tr)
				got := read(t, conn)
				status, ok := strings.CutSuffix(got, c.tail)
				if len(got) > 4096 || !ok || strings.Count(status, "\n") != 0 || !strings.HasPrefix(status, "STATUS=") {
					t.Fatalf("datagram %q…", got[:min(len(got), 80)])
				}
			}
		}
	})
}
