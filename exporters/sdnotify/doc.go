// Package sdnotify tells systemd about a node's cluster lifecycle, through
// the sd_notify protocol (a datagram to $NOTIFY_SOCKET), as a Sink of an
// otellifecycle.Tracker.
//
// Every transition sends STATUS=<detail>, so `systemctl status` shows
// "ready (3 nodes)" or "failed: lost quorum"; the tracker's initial state
// arrives as soon as the tracker is created, so it shows "starting" from
// the start. The first Ready also sends READY=1, so a Type=notify unit is
// "started" only once its node has joined its cluster; the first Stopping
// sends STOPPING=1. (Restarting is a process restart that reloads its
// catalog, not a configuration reload: it sends only STATUS=.) Two options
// add to this:
//
//   - WithExtendTimeout: each Bootstrapping and each Joining attempt also
//     sends EXTEND_TIMEOUT_USEC, so a slow bootstrap or a long join does
//     not hit TimeoutStartSec=.
//   - WithWatchdogTrigger: each entry into Failed also sends
//     WATCHDOG=trigger, so systemd takes the watchdog action (kill, and
//     restart per Restart=) at once instead of after WatchdogSec=.
//
// The datagram of each phase, with both options on:
//
//	Starting, Restarting, Draining  STATUS=<detail>
//	Bootstrapping, Joining          STATUS=<detail>\nEXTEND_TIMEOUT_USEC=<µs>
//	Ready                           STATUS=<detail>\nREADY=1 (READY=1 the first time only, and never after STOPPING=1)
//	Stopping                        STATUS=stopping\nSTOPPING=1 (STOPPING=1 the first time only)
//	Failed                          STATUS=failed: <reason>\nWATCHDOG=trigger
//
// Wiring, with the watchdog following the tracker's liveness rule (the one
// /livez answers with: every phase but Failed, or WithLiveness):
//
//	notify := sdnotify.New()
//	tracker, err := otellifecycle.New(otellifecycle.WithSinks(notify))
//	if err != nil {
//		return err
//	}
//	defer tracker.Close()
//	if _, err := notify.StartWatchdog(ctx, tracker.IsLive); err != nil { // pings when the unit sets WatchdogSec=
//		return err
//	}
//
// Without NOTIFY_SOCKET (not run by systemd) the sink does nothing and
// reports nothing.
//
// # Stopping is final
//
// A running unit that sends STOPPING=1 is, to systemd, as good as one it
// sent SIGTERM: the unit becomes "deactivating" and TimeoutStopSec= starts.
// Since systemd 259 this is final: no later notification undoes it, and a
// service still running when the stop timeout ends has the unit's
// remaining processes killed (sd_notify(3)). So the sink sends STOPPING=1
// once, on the first Stopping, and no READY=1, EXTEND_TIMEOUT_USEC or
// WATCHDOG=trigger after it (an extension would stretch the stop timeout,
// a trigger would abort a unit that is stopping already). A tracker may still
// leave Stopping (transitions are any → any), and every later transition
// still updates STATUS=, but the unit stays deactivating: a later READY=1
// would not make it active again. A service whose tracker has been
// Stopping should exit; whether systemd starts it again is up to the
// unit's Restart=.
//
// What the sink guarantees:
//
//   - One datagram per transition, never over 4096 bytes, holding only the
//     lines the sink means: a detail is made one line (CR, LF and NUL
//     become spaces) and cut to fit, so a reason holding "\nREADY=1" can
//     never make systemd believe the node is ready, and one holding "="
//     cannot add a variable either.
//   - READY=1 and STOPPING=1 at most once per Sink.
//   - A send never blocks for long: each has a deadline (WithWriteTimeout,
//     default 1s), so a receiver that stops reading costs a timeout, not a
//     wedged sink. (go-systemd's daemon.SdNotify has no deadline; this
//     package uses go-systemd for the protocol's names and for
//     WATCHDOG_USEC, and sends itself.)
//   - A socket that cannot be reached is reported once through
//     otel.Handle, not on every transition; after a send succeeds again, the
//     next failure is reported again. Notify itself always returns nil.
package sdnotify
