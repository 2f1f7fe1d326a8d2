package sdnotify

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// WatchdogOption configures StartWatchdog.
type WatchdogOption interface{ apply(*watchdog) }

type watchdog struct {
	healthy func(otellifecycle.State) bool
}

type watchdogOptionFunc func(*watchdog)

func (f watchdogOptionFunc) apply(w *watchdog) { f(w) }

// WithHealthy decides in which states the watchdog pings. The default is
// every phase but Failed.
func WithHealthy(healthy func(otellifecycle.State) bool) WatchdogOption {
	return watchdogOptionFunc(func(w *watchdog) {
		if healthy != nil {
			w.healthy = healthy
		}
	})
}

// StartWatchdog sends WATCHDOG=1 at half the interval systemd asked for
// (WATCHDOG_USEC, for this process per WATCHDOG_PID) until ctx is done.
// It skips the ping while the tracker is unhealthy (by default: Failed), so
// that a node whose lifecycle failed and does not recover within
// WatchdogSec is restarted by systemd; pings resume if it recovers first.
//
//	(false, nil)  the watchdog is not enabled for this process: nothing runs
//	(false, err)  WATCHDOG_USEC or WATCHDOG_PID could not be read
//	(true, nil)   pinging until ctx is done
func (s *Sink) StartWatchdog(ctx context.Context, tracker *otellifecycle.Tracker, opts ...WatchdogOption) (bool, error) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 || !s.Enabled() {
		return false, err
	}
	w := watchdog{healthy: func(st otellifecycle.State) bool { return st.Phase != otellifecycle.Failed }}
	for _, o := range opts {
		o.apply(&w)
	}
	go func() {
		tick := time.NewTicker(interval / 2)
		defer tick.Stop()
		for {
			if w.healthy(tracker.Current()) {
				s.send(daemon.SdNotifyWatchdog)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return true, nil
}
