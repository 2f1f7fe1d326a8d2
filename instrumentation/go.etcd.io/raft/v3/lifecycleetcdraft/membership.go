package lifecycleetcdraft

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
)

// The helpers in this file run what the service asks of the cluster (join,
// leave, stop) and tell the Observer about it, so the phase says what the
// node is doing, not only what Raft reports afterwards. Each moves the
// tracker before it acts, on the caller's goroutine and with the caller's
// ctx (its trace context goes with the transition).

// Join asks the cluster to add this node, by calling join (the service's
// own request: an RPC to a member that proposes a ConfChangeAddNode or
// ConfChangeAddLearnerNode for this node's ID) until it returns nil, on the
// WithJoinBackoff schedule (by default otellifecycle.DefaultJoinBackoff: 8
// attempts, waiting 0, 0.25, 0.5, 1, 2, 4, 8 and 16 s before them).
// Attempt i, counted from 0, shows as Joining{i} from when it starts
// (after its wait) until the next one starts.
//
// Join returns:
//
//   - nil when join returned nil: the node stays Joining until it is a
//     voter with a leader, then is Ready (wait for that with the tracker's
//     WaitReady); a learner stays Joining until it is promoted. Join
//     returns nil at once, without calling join, when the node is a voter
//     with a leader already.
//   - an error wrapping ctx's when ctx ends first (or had ended); the
//     Joining intent is dropped, nothing is marked Failed, and the node
//     shows what Raft says: a cancelled join is the service changing its
//     mind, not a fault.
//   - ErrClosed after Close, Shutdown or Leave, or when one of them comes
//     while Join runs: Join then stops at once (join's ctx is cancelled)
//     and calls join no more.
//   - an error at once while another Join runs: one Join at a time.
//   - the last attempt's error, wrapped, when every attempt failed; the
//     node is then Failed{"join failed after N attempts: <error>"} until it
//     is a voter with a leader (an operator may add it) or a new Join.
//
// join gets a ctx that ends with ctx or with the Observer, and should
// honour it.
func (o *Observer) Join(ctx context.Context, join func(ctx context.Context) error) error {
	return o.d.Join(ctx, join, joined)
}

// Fail marks the node Failed{reason} for a fault Raft cannot see: the
// service's own disk, a dependency, a check of its own. The node stays
// Failed, whatever Raft reports, until Recover; only Leave, Shutdown and
// the node stopping take precedence (see the mapping). An empty reason
// becomes "failed by the service". A Failed node keeps its place in the
// cluster: Raft goes on replicating to it and may elect it.
func (o *Observer) Fail(ctx context.Context, reason string) {
	o.d.Fail(ctx, reason)
}

// Recover ends what Fail began: the node shows what Raft reports again, at
// once (Ready{n} when it is a voter with a leader). Without a Fail before,
// it does nothing.
func (o *Observer) Recover(ctx context.Context) {
	o.d.Recover(ctx)
}

// Leave is the graceful start of a departure: it moves the tracker to
// Draining (for good: Shutdown is the only way on) and ends a running Join;
// then, when this node is the leader and has another
// voter, it hands leadership to the voter whose log is most up to date
// (raft.Node.TransferLeadership) and waits, within ctx, until this node
// knows another leader; then it calls remove, when not nil: the service's
// own request that the cluster remove this node (a ConfChangeRemoveNode
// proposed through a member), which it may skip for a planned restart
// that keeps the membership.
//
// While Draining, a removal from the configuration is the plan, not a
// failure, and the node stopping shows Stopping. Leave returns the wait's
// or remove's error; whatever it returns, the node is Draining and the
// service goes on with Shutdown. After Shutdown, Leave does nothing and
// returns ErrClosed.
func (o *Observer) Leave(ctx context.Context, remove func(ctx context.Context) error) error {
	if err := o.d.Leave(ctx); err != nil {
		return err // ErrClosed, after Shutdown
	}
	st := o.n.Status()
	o.reads.Add(1)
	if st.RaftState == raft.StateLeader {
		if to := transferee(st); to != raft.None {
			o.n.TransferLeadership(ctx, st.ID, to)
			if err := o.awaitOtherLeader(ctx, st.ID); err != nil {
				return fmt.Errorf("lifecycleetcdraft: Leave: waiting for the new leader: %w", err)
			}
		}
	}
	if remove == nil {
		return nil
	}
	if err := remove(ctx); err != nil {
		return fmt.Errorf("lifecycleetcdraft: Leave: %w", err)
	}
	return nil
}

// transferee is the voter other than the leader whose log matches the
// leader's furthest, or raft.None when the leader is the only voter.
func transferee(st raft.Status) uint64 {
	best, match := raft.None, uint64(0)
	for id := range st.Config.Voters.IDs() {
		if m := st.Progress[id].Match; id != st.ID && (best == raft.None || m > match) {
			best, match = id, m
		}
	}
	return best
}

// awaitOtherLeader waits until the node knows a leader other than self.
// etcd Raft announces leaders only in the Ready loop, which is the
// service's, so it reads Status, briefly, until then.
func (o *Observer) awaitOtherLeader(ctx context.Context, self uint64) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st := o.n.Status()
		o.reads.Add(1)
		switch {
		case st.ID == raft.None:
			return raft.ErrStopped
		case st.Lead != raft.None && st.Lead != self:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Shutdown is how the service stops the node: it ends a running Join,
// moves the tracker to Stopping (unless the Observer is closed), stops the
// node (raft.Node.Stop, which waits for the node's goroutine to end), then
// closes the Observer. It returns Close's error: Node.Stop reports none.
// The node stopping any other way (and not after Leave) is Failed.
// Shutdown is idempotent and safe to call concurrently with every method;
// every call returns the first one's result.
func (o *Observer) Shutdown() error {
	o.shutdownOnce.Do(func() {
		o.d.Stop()
		o.n.Stop()
		o.shutdownErr = o.Close()
	})
	return o.shutdownErr
}
