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

// watchdogTrigger asks systemd for the watchdog action now (sd_notify(3),
// systemd 243). go-systemd's daemon package has no name for it.
const watchdogTrigger = "WATCHDOG=trigger"

// Sink sends the lifecycle to systemd. Create it with New; it is safe for
// concurrent use.
type Sink struct {
	socket       string
	writeTimeout time.Duration
	extend       time.Duration
	trigger      bool

	readySent    atomic.Bool
	stoppingSent atomic.Bool // STOPPING=1 is final: sent once, and no READY=1 after it
	failing      atomic.Bool // a failure was reported and no send has succeeded since
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

// WithExtendTimeout makes every Bootstrapping and Joining transition also
// send EXTEND_TIMEOUT_USEC=d, asking systemd to wait d more for start-up:
// a bootstrap that pings its seeds is as slow as a join, and each join
// attempt asks again. Each datagram gives the service d from the moment
// systemd gets it (sd_notify(3)), so set d longer than one bootstrap or
// join attempt takes. Zero (the default) turns it off.
func WithExtendTimeout(d time.Duration) Option {
	return optionFunc(func(s *Sink) { s.extend = max(d, 0) })
}

// WithWatchdogTrigger makes every entry into Failed also send
// WATCHDOG=trigger, in the same datagram as its STATUS=failed: <reason>.
// systemd then acts at once as it would on a missed watchdog ping, instead
// of WatchdogSec= after the last one: the service is placed in a failed
// state and terminated with SIGABRT (or WatchdogSignal=), and
// Restart=on-failure, on-watchdog, on-abnormal or always restarts it. The
// journal names the reason: "Watchdog request (last status: failed: …)!".
//
// Per sd_notify(3), WatchdogSec= need not be set for WATCHDOG=trigger to
// act (systemd 243 and later); `systemctl service-watchdogs no` turns it
// off. Without the option, a Failed node only stops the StartWatchdog
// pings (by the default liveness rule), and systemd acts after
// WatchdogSec=, if the unit sets it. Use it when a failed node is better
// restarted than left to recover: the tracker allows Failed → Joining, and
// with this option a node gets no time to take that path itself.
func WithWatchdogTrigger() Option {
	return optionFunc(func(s *Sink) { s.trigger = true })
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
		if !s.stoppingSent.Load() && s.readySent.CompareAndSwap(false, true) {
			extra = append(extra, daemon.SdNotifyReady)
		}
	case otellifecycle.Stopping:
		if s.stoppingSent.CompareAndSwap(false, true) {
			extra = append(extra, daemon.SdNotifyStopping)
		}
	case otellifecycle.Bootstrapping, otellifecycle.Joining:
		if s.extend > 0 && !s.stoppingSent.Load() { // it would stretch the stop timeout
			extra = append(extra, "EXTEND_TIMEOUT_USEC="+strconv.FormatInt(s.extend.Microseconds(), 10))
		}
	case otellifecycle.Failed:
		if s.trigger && !s.stoppingSent.Load() { // the unit is stopping already
			extra = append(extra, watchdogTrigger)
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
