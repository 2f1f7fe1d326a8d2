// Package testsupport is what the tests of every module of this repository
// share: polling with a deadline, waiting for a tracker's state and
// checking its state gauge, the capture of errors reported through
// otel.Handle, and the README's code blocks (so that each is compiled
// code, checked against the README byte for byte). Only tests import it;
// it depends on the standard library, the OpenTelemetry API and SDK and
// otellifecycle alone, so it adds nothing to the root module's
// requirements.
package testsupport

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

// Poll calls f until it returns nil, sleeping every between calls, and
// fails the test with f's last error if within passes first. A nil error
// on the first call returns at once.
func Poll(t testing.TB, what string, within, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(every)
	}
}

// Eventually is Poll for a condition that has no error to tell: it polls
// cond every millisecond for up to within.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	Poll(t, what, within, time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

type notYet struct{}

func (notYet) Error() string { return "condition not met" }

var errNotYet error = notYet{}

// ErrorLog collects the errors reported through otel.Handle while it is
// the global error handler.
type ErrorLog struct {
	mu   sync.Mutex
	errs []error
}

// CaptureOTelErrors makes a new ErrorLog the global OpenTelemetry error
// handler until the test ends, then installs one that discards. The
// handler is global: tests that use it must not run in parallel.
func CaptureOTelErrors(t testing.TB) *ErrorLog {
	l := &ErrorLog{}
	otel.SetErrorHandler(l)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	return l
}

// Handle records err; it is the otel.ErrorHandler method.
func (l *ErrorLog) Handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// All returns a copy of the errors recorded so far, oldest first.
func (l *ErrorLog) All() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// Len is how many errors have been recorded.
func (l *ErrorLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

// READMEBlock returns the first ```go code block after the line heading
// (for example "## Quick start") in the Markdown file at path.
func READMEBlock(t testing.TB, path, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no %q", path, heading)
	}
	doc = doc[i:]
	start := strings.Index(doc, "```go\n")
	if start < 0 {
		t.Fatalf("%s: no go code block after %q", path, heading)
	}
	doc = doc[start+len("```go\n"):]
	end := strings.Index(doc, "```\n")
	if end < 0 {
		t.Fatalf("%s: the go code block after %q does not end", path, heading)
	}
	return doc[:end]
}

// Marked returns the lines of the Go file at path between the comment
// lines "// name:begin" and "// name:end", each less one leading tab: a
// function body as it reads in a README.
func Marked(t testing.TB, path, name string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	begin, end := "// "+name+":begin\n", "// "+name+":end"
	b, e := strings.Index(src, begin), strings.Index(src, end)
	if b < 0 || e < b {
		t.Fatalf("%s has no %q … %q", path, begin, end)
	}
	body := src[b+len(begin) : e]
	body = body[:strings.LastIndex(body, "\n")+1] // the end marker's indentation
	var out strings.Builder
	for _, line := range strings.SplitAfter(body, "\n") {
		out.WriteString(strings.TrimPrefix(line, "\t"))
	}
	return out.String()
}
