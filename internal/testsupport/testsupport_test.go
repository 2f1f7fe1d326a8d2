package testsupport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
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

func TestWantStateGaugeHoldsTheOneHotGaugeWithItsAttributes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	node := attribute.String("node.id", "n1")
	tracker, err := otellifecycle.New(otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(node),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer tracker.Close()
	go tracker.ToReady(context.Background(), 3)
	if s := testsupport.WaitState(t, tracker, "Ready", time.Second, otellifecycle.State.IsReady); s != otellifecycle.ReadyState(3) {
		t.Fatalf("WaitState returned %v, want ready (3 nodes)", s)
	}
	testsupport.WantStateGauge(t, reader, otellifecycle.Ready, node)

	for _, tc := range []struct {
		name  string
		phase otellifecycle.Phase
		attrs []attribute.KeyValue
	}{
		{"another phase", otellifecycle.Failed, []attribute.KeyValue{node}},
		{"without the attributes", otellifecycle.Ready, nil},
	} {
		e := &errorf{TB: t}
		testsupport.WantStateGauge(e, reader, tc.phase, tc.attrs...)
		if len(e.errs) == 0 {
			t.Errorf("%s: WantStateGauge reported nothing", tc.name)
		}
	}
}
