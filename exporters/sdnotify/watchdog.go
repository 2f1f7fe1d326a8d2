package sdnotify

import (
	"context"
	"errors"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// StartWatchdog sends WATCHDOG=1 at half the interval systemd asked for
// (WATCHDOG_USEC, for this process per WATCHDOG_PID) until ctx is done. It
// skips the ping while live returns false, so that systemd restarts a node
// that stays unhealthy for WatchdogSec=; pings resume if live turns true
// first. Pass the tracker's IsLive, so the watchdog follows the same rule
// as /livez (every phase but Failed, or otellifecycle.WithLiveness), or a
// function of your own. live is called from the watchdog's goroutine, once
// per tick; it must be safe for that.
//
//	(false, nil)  the watchdog is not enabled for this process: nothing runs
//	(false, err)  live is nil, or WATCHDOG_USEC or WATCHDOG_PID could not be read
//	(true, nil)   pinging until ctx is done
func (s *Sink) StartWatchdog(ctx context.Context, live func() bool) (bool, error) {
	if live == nil {
		return false, errors.New("sdnotify: StartWatchdog: live is nil (pass the tracker's IsLive)")
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 || !s.Enabled() {
		return false, err
	}
	go func() {
		tick := time.NewTicker(interval / 2)
		defer tick.Stop()
		for {
			if live() {
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
