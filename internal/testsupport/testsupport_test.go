package testsupport_test

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	testsupport.Poll(t, "the third call", time.Second, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("%d calls, want 3", calls)
	}
}

// fatal records a Fatalf instead of ending the test.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

func TestPollFailsAtItsDeadlineWithTheLastError(t *testing.T) {
	f := &fatal{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("recovered %v, want the Fatalf", r)
			}
		}()
		testsupport.Poll(f, "never", 20*time.Millisecond, time.Millisecond, func() error { return errors.New("still no") })
	}()
	if f.msg == "" || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Poll gave up after %v with %q", time.Since(start), f.msg)
	}
}

func TestErrorLogCollectsWhatOTelHandles(t *testing.T) {
	log := testsupport.CaptureOTelErrors(t)
	otel.Handle(errors.New("one"))
	otel.Handle(errors.New("two"))
	if all := log.All(); log.Len() != 2 || all[0].Error() != "one" || all[1].Error() != "two" {
		t.Fatalf("recorded %v", all)
	}
}
