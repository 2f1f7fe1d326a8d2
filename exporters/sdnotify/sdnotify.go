package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.opentelemetry.io/otel"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// MaxDatagram is the most bytes one notification carries.
const MaxDatagram = 4096

// Sink sends the lifecycle to systemd. Create it with New; it is safe for
// concurrent use.
type Sink struct {
	socket       string
	writeTimeout time.Duration
	extend       time.Duration

	readySent atomic.Bool
	failing   atomic.Bool // a failure was reported and no send has succeeded since
}

// Option configures a Sink.
type Option interface{ apply(*Sink) }

type optionFunc func(*Sink)

func (f optionFunc) apply(s *Sink) { f(s) }

// WithSocket sets the notification socket instead of $NOTIFY_SOCKET: a
// path, or "@name" for the abstract namespace. Empty disables the sink.
func WithSocket(socket string) Option {
	return optionFunc(func(s *Sink) { s.socket = socket })
}

// WithWriteTimeout bounds each send (default 1s; non-positive keeps it).
func WithWriteTimeout(d time.Duration) Option {
	return optionFunc(func(s *Sink) {
		if d > 0 {
			s.writeTimeout = d
		}
	})
}

// WithExtendTimeout makes every Joining transition also send
// EXTEND_TIMEOUT_USEC=d, asking systemd to wait d more for start-up. Zero
// (the default) turns it off.
func WithExtendTimeout(d time.Duration) Option {
	return optionFunc(func(s *Sink) { s.extend = max(d, 0) })
}

// New returns a Sink for $NOTIFY_SOCKET as it is now (or WithSocket).
func New(opts ...Option) *Sink {
	s := &Sink{socket: os.Getenv("NOTIFY_SOCKET"), writeTimeout: time.Second}
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// Enabled reports whether the sink has a socket to send to.
func (s *Sink) Enabled() bool { return s.socket != "" }

// String names the sink in the tracker's reports.
func (s *Sink) String() string { return "sdnotify(" + s.socket + ")" }

// Notify sends the datagram for t. It always returns nil: failures are
// reported through otel.Handle, once (see the package documentation).
func (s *Sink) Notify(_ context.Context, t otellifecycle.Transition) error {
	if !s.Enabled() {
		return nil
	}
	s.send(s.message(t))
	return nil
}

// message builds the datagram for t.
func (s *Sink) message(t otellifecycle.Transition) string {
	var extra []string
	switch t.To.Phase {
	case otellifecycle.Ready:
		if s.readySent.CompareAndSwap(false, true) {
			extra = append(extra, daemon.SdNotifyReady)
		}
	case otellifecycle.Stopping:
		extra = append(extra, daemon.SdNotifyStopping)
	case otellifecycle.Joining:
		if s.extend > 0 {
			extra = append(extra, "EXTEND_TIMEOUT_USEC="+strconv.FormatInt(s.extend.Microseconds(), 10))
		}
	}
	room := MaxDatagram - len("STATUS=")
	for _, e := range extra {
		room -= len(e) + 1
	}
	lines := append([]string{"STATUS=" + oneLine(t.Detail, room)}, extra...)
	return strings.Join(lines, "\n")
}

// oneLine makes s a single line of valid UTF-8 of at most max bytes.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// send writes one datagram with a deadline and reports the first failure.
func (s *Sink) send(msg string) {
	err := s.write(msg)
	if err == nil {
		s.failing.Store(false)
		return
	}
	if s.failing.CompareAndSwap(false, true) {
		otel.Handle(fmt.Errorf("sdnotify: notifying %s: %w (reported once until a send succeeds)", s.socket, err))
	}
}

func (s *Sink) write(msg string) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil {
		return err
	}
	_, err = conn.Write([]byte(msg))
	return err
}
