package otelsetup

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// handled is an error handler that keeps what it is given; take returns,
// as text, what came since the last take.
type handled struct {
	testsupport.ErrorLog
	taken int
}

func (h *handled) take() []string {
	all := h.All()
	var got []string
	for _, err := range all[h.taken:] {
		got = append(got, err.Error())
	}
	h.taken = len(all)
	return got
}

// clock is a time that moves only when told.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time      { return c.now }
func (c *clock) Add(d time.Duration) { c.now = c.now.Add(d) }
func newLimit(next *handled) (*errorLimit, *clock) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newErrorLimit(next)
	l.now = c.Now
	return l, c
}

// An error is passed on the first time, then once a minute at most with
// the number of times it came meanwhile; another text has a minute of its
// own; flush tells the repeats held back.
func TestTheSameErrorIsPassedOnOnceAMinute(t *testing.T) {
	next := &handled{}
	l, c := newLimit(next)
	refused := errors.New("traces export: connection refused")
	for range 10 {
		l.Handle(refused)
		c.Add(5 * time.Second) // a batch processor's interval
	}
	l.Handle(errors.New("failed to upload metrics: connection refused"))
	if got, want := next.take(), []string{"traces export: connection refused", "failed to upload metrics: connection refused"}; !slices.Equal(got, want) {
		t.Fatalf("in the first 50s: %q, want %q", got, want)
	}
	c.Add(10 * time.Second) // a minute since the first
	l.Handle(refused)
	if got, want := next.take(), []string{"traces export: connection refused (and 9 more times in the last 1m0s)"}; !slices.Equal(got, want) {
		t.Fatalf("a minute on: %q, want %q", got, want)
	}
	l.Handle(refused)
	c.Add(time.Second)
	l.flush()
	if got, want := next.take(), []string{"traces export: connection refused (and 1 more times in the last 1s)"}; !slices.Equal(got, want) {
		t.Fatalf("flush: %q, want %q", got, want)
	}
	l.flush()
	if got := next.take(); len(got) != 0 {
		t.Fatalf("a second flush: %q", got)
	}
}

// Errors passed on keep what they wrap; an error handed back (by
// OpenTelemetry's default handler, which forwards to the first handler
// installed) is written, not counted again; a second Setup's handler
// passes on to the first one's next, not through it.
func TestPassedOnErrorsWrapTheOriginal(t *testing.T) {
	next := &handled{}
	l, _ := newLimit(next)
	var got error
	l.next = otel.ErrorHandlerFunc(func(err error) { got = err })
	cause := fmt.Errorf("export: %w", errors.ErrUnsupported)
	l.Handle(cause)
	if !errors.Is(got, errors.ErrUnsupported) {
		t.Fatalf("passed on %v, which does not wrap the original", got)
	}
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	passed := got
	got = nil
	l.Handle(passed) // handed back: logged, not passed on again
	if got != nil || !strings.HasSuffix(logged.String(), " export: unsupported operation\n") {
		t.Fatalf("an error handed back was passed on (%v) or logged as %q", got, logged.String())
	}
	if _, through := newErrorLimit(l).next.(*errorLimit); through {
		t.Fatal("a second handler passes on through the first")
	}
}

// The handler remembers a bounded number of texts: past it, a new text is
// passed on every time, and texts told over a minute ago make room.
func TestTheHandlerRemembersBoundedTexts(t *testing.T) {
	next := &handled{}
	l, c := newLimit(next)
	for i := range maxErrorTexts + 1 {
		l.Handle(fmt.Errorf("error %d", i))
	}
	l.Handle(fmt.Errorf("error %d", maxErrorTexts))
	if got := len(next.take()); got != maxErrorTexts+2 || len(l.seen) != maxErrorTexts {
		t.Fatalf("%d passed on, %d remembered", got, len(l.seen))
	}
	c.Add(time.Minute)
	l.Handle(errors.New("a new one"))
	l.Handle(errors.New("a new one"))
	if got := next.take(); len(got) != 1 || len(l.seen) != 1 {
		t.Fatalf("after a minute: %q passed on, %d remembered", got, len(l.seen))
	}
}
