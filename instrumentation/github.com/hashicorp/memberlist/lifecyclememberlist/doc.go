// Package lifecyclememberlist drives an otellifecycle.Tracker from a
// hashicorp/memberlist node's own signals, so that a service on memberlist
// writes no mapping code: its /readyz, its cluster.lifecycle.state gauge, its
// systemd STATUS= and its lifecycle trace follow what memberlist reports.
//
// A service is instrumented where it creates, joins and stops its node
// (see the example):
//
//	node, err := lifecyclememberlist.Create(conf, tracker) // instead of memberlist.Create(conf)
//	if err != nil {
//		return err
//	}
//	defer node.Shutdown()       // Stopping, then memberlist's Shutdown
//	err = node.Join(ctx, seeds) // Joining{0}, Joining{1}, … Ready{n}; no seeds for the first node
//
// From Create on, the Observer owns the tracker's phase: the service calls
// the Observer's Join, Leave and Shutdown, and none of the tracker's To*
// methods. The package follows the contract that every engine module of
// this repository follows (instrumentation/README.md in the repository):
// constructors that return an error, options that are errors when invalid,
// one meaning of a cancelled context, Close and Shutdown alike. It
// registers no instruments of its own (what it learns from memberlist
// reaches the tracker's instruments as phases and Ready's node count), so
// the contract's rule on the tracker's meter provider and attributes has
// nothing to apply to here.
//
// # Why Create and not a delegate to wire in
//
// Create builds the memberlist itself, from a copy of the caller's Config whose
// Events is a wrapper around the caller's own EventDelegate. It cannot be
// forgotten or wired to the wrong memberlist, the observer sees every event
// from the node's first (its own join) on, and it knows what it needs from the
// Config that a running memberlist does not expose: the node's name (to tell
// its own leave) and AwarenessMaxMultiplier (the worst health score).
// Memberlist gives everything else.
//
// # Mapping
//
// The Observer moves the tracker as follows. "alive" is the number of members
// memberlist's events report alive, this node included: the same count as
// (*memberlist.Memberlist).NumMembers.
//
//	memberlist signal                                        phase
//	Create                                                   (unchanged: Starting)
//	memberlist.Create fails                                  Failed{"create memberlist: <error>"}
//	Join(ctx, seeds): attempt i, after its wait backoff[i]   Joining{i}, i from 0
//	memberlist Join contacts a seed (or Join without seeds)  Ready{alive}
//	every attempt fails                                      Failed{"join failed after N attempts: <last error>"}
//	ctx ends during Join                                     what it was before Join (Starting before the first),
//	                                                           Ready{alive} when other members joined it meanwhile
//	Join after Leave, Shutdown or Close                      (unchanged; Join returns ErrClosed)
//	NotifyJoin, NotifyLeave while Ready                      Ready{alive}
//	NotifyJoin of another member while Failed by its join    Ready{alive} (the cluster found this node)
//	GetHealthScore at its worst, while Ready, for longer     Failed{"memberlist health score at its worst (S) for longer than D"}
//	  than WithHealthTimeout (D)
//	GetHealthScore better than its worst, while so Failed    Ready{alive}
//	Leave(timeout), or NotifyLeave of this node              Draining
//	Shutdown()                                               Stopping
//	NotifyUpdate                                             – (forwarded and counted only)
//
// A Failed node is not stuck: a later Join moves it through Joining again,
// as the tracker's any → any contract allows. Before the first Join the
// observer only counts: a node is not Ready before it has tried to join. The
// first node of a cluster calls Join with no seeds.
//
// The worst health score is AwarenessMaxMultiplier−1 (memberlist's awareness
// keeps the score below its maximum): 7 with memberlist's default configs. A
// node at its worst is missing its probes' acks and its peers' nacks round
// after round, or keeps refuting suspicions of itself: cut off, or too
// starved of CPU to answer in time. A node alone after every peer died stays
// at its worst too, as memberlist cannot tell that from being cut off. With an
// AwarenessMaxMultiplier of 1 or less the score is always 0 and the check is
// off, as it is with WithHealthTimeout(0).
//
// Memberlist gives no signal for a Shutdown called on it directly (through
// Memberlist), only the Observer's Shutdown moves to Stopping. A Leave called
// on it directly is seen, by this node's own NotifyLeave.
//
// # Measured timelines
//
// The package's tests measure these on real members on loopback, with
// probes every 200 ms (100 ms timeout) and gossip every 20 ms, under the
// race detector (go test -v; figures of one run on a shared 2-core
// machine):
//
//   - a member killed without leaving: the survivors are Ready{n−1}
//     1.18 s later, the time memberlist's failure detection takes;
//   - a member that leaves: the others are Ready{n−1} within 5 ms;
//   - a node whose only peer died, with an AwarenessMaxMultiplier of 2 and
//     WithHealthTimeout(1s): Failed 1.50 s later.
//
// # Never blocking memberlist
//
// Memberlist calls its EventDelegate synchronously, holding the lock that
// guards its member map, so an event handler that waits stalls gossip, probes
// and failure detection. The wrapper therefore only records the event (a map
// update under a lock of its own), wakes the observer's goroutine without
// waiting (a one-slot channel: latest value wins) and calls the caller's
// delegate; it never calls the tracker, whose transitions write logs and spans.
// The observer's goroutine makes the transition, reading the count as it is
// then. Changes that arrive while it is still busy with an earlier one are
// folded into the next transition, so the tracker may go from Ready{3} to
// Ready{5} without Ready{4}; each such change is counted in Stats().Coalesced.
// The same goroutine polls GetHealthScore, and Close stops it.
//
// The caller's EventDelegate gets every event, the same *memberlist.Node, in
// memberlist's order, from memberlist's goroutine, as without the wrapper.
package lifecyclememberlist
