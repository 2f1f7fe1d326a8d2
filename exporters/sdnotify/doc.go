// Package sdnotify tells systemd about a node's cluster lifecycle, through
// the sd_notify protocol (a datagram to $NOTIFY_SOCKET), as a Sink of an
// otellifecycle.Tracker.
//
// Every transition sends STATUS=<detail>, so `systemctl status` shows
// "ready (3 nodes)" or "failed: lost quorum"; the tracker's initial state
// arrives as soon as the tracker is created, so it shows "starting" from
// the start. The first Ready also sends
// READY=1, so a Type=notify unit is "started" only once its node has
// joined its cluster; Stopping sends STOPPING=1. (Restarting is a process
// restart that reloads its catalog, not a configuration reload: it sends
// only STATUS=.) With WithExtendTimeout, each Joining attempt also sends
// EXTEND_TIMEOUT_USEC, so a long join does not hit TimeoutStartSec.
//
//	notify := sdnotify.New()
//	tracker, err := otellifecycle.New(otellifecycle.WithSinks(notify))
//	if err != nil {
//		return err
//	}
//	defer tracker.Close()
//	if _, err := notify.StartWatchdog(ctx, tracker); err != nil { // when the unit sets WatchdogSec=
//		return err
//	}
//
// Without NOTIFY_SOCKET (not run by systemd) the sink does nothing and
// reports nothing.
//
// What the sink guarantees:
//
//   - One datagram per transition, never over 4096 bytes, holding only the
//     lines the sink means: a detail is made one line (CR, LF and NUL
//     become spaces) and cut to fit, so a reason holding "\nREADY=1" can
//     never make systemd believe the node is ready.
//   - A send never blocks for long: each has a deadline (WithWriteTimeout,
//     default 1s), so a receiver that stops reading costs a timeout, not a
//     wedged sink. (go-systemd's daemon.SdNotify has no deadline; this
//     package uses go-systemd for the protocol's names and for
//     WATCHDOG_USEC, and sends itself.)
//   - A socket that cannot be reached is reported once through
//     otel.Handle, not on every transition; after a send succeeds again, the
//     next failure is reported again. Notify itself always returns nil.
package sdnotify
