package otelsetup

import (
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
)

// errorInterval is how often the error handler Setup installs passes on
// the same error again: a collector that is down fails every export, every
// few seconds, with the same text.
const errorInterval = time.Minute

// maxErrorTexts bounds how many distinct error texts the handler
// remembers; past it, a new text is passed on every time.
const maxErrorTexts = 1024

// errorLimit is the global error handler Setup installs. It passes each
// distinct error text on to next the first time it is reported, then at
// most once per interval, saying how many times it came in between; flush
// passes on the repeats not yet told. It is safe for concurrent use.
type errorLimit struct {
	next     otel.ErrorHandler // the handler in place before Setup
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	seen map[string]*repeats // by error text
}

// repeats is what the handler knows of one error text.
type repeats struct {
	err    error     // the latest report
	passed time.Time // when it was last passed on
	n      int       // reports since then, not passed on
}

// forwarded is an error the handler has passed on. OpenTelemetry's default
// handler forwards every error to the first handler ever installed, which
// may be this one: an error that comes back so is written to the standard
// logger, as the default handler would have.
type forwarded struct{ error }

func (f forwarded) Unwrap() error { return f.error }

// newErrorLimit returns a handler that passes on to next, or to what next
// passes on to when next is an errorLimit itself (a second Setup).
func newErrorLimit(next otel.ErrorHandler) *errorLimit {
	if l, ok := next.(*errorLimit); ok {
		next = l.next
	}
	return &errorLimit{next: next, interval: errorInterval, now: time.Now, seen: map[string]*repeats{}}
}

// Handle is the otel.ErrorHandler method.
func (l *errorLimit) Handle(err error) {
	if err == nil {
		return
	}
	var f forwarded
	if errors.As(err, &f) {
		log.Print(f.error)
		return
	}
	text, now := err.Error(), l.now()
	l.mu.Lock()
	r, ok := l.seen[text]
	switch {
	case !ok:
		l.remember(text, &repeats{err: err, passed: now})
		l.mu.Unlock()
		l.pass(err)
	case now.Sub(r.passed) < l.interval:
		r.err = err
		r.n++
		l.mu.Unlock()
	default:
		n, since := r.n, r.passed
		r.err, r.passed, r.n = err, now, 0
		l.mu.Unlock()
		l.pass(repeated(err, n, now.Sub(since)))
	}
}

// remember keeps r for text, making room by forgetting the texts told over
// an interval ago with no repeat pending; with no room, it keeps nothing.
func (l *errorLimit) remember(text string, r *repeats) {
	if len(l.seen) >= maxErrorTexts {
		for t, old := range l.seen {
			if old.n == 0 && r.passed.Sub(old.passed) >= l.interval {
				delete(l.seen, t)
			}
		}
	}
	if len(l.seen) < maxErrorTexts {
		l.seen[text] = r
	}
}

// flush passes on, once for each text, the repeats not yet told.
func (l *errorLimit) flush() {
	now := l.now()
	var pending []error
	l.mu.Lock()
	for _, r := range l.seen {
		if r.n > 0 {
			pending = append(pending, repeated(r.err, r.n, now.Sub(r.passed)))
			r.passed, r.n = now, 0
		}
	}
	l.mu.Unlock()
	for _, err := range pending {
		l.pass(err)
	}
}

func (l *errorLimit) pass(err error) {
	if l.next == nil {
		log.Print(err)
		return
	}
	l.next.Handle(forwarded{err})
}

// repeated is err, saying it came n more times over d (nothing when n is 0).
func repeated(err error, n int, d time.Duration) error {
	if n == 0 {
		return err
	}
	return fmt.Errorf("%w (and %d more times in the last %v)", err, n, d.Round(time.Second))
}
