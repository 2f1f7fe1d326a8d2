package lifecycleraft

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/internal/engine"
)

// The helpers in this file run what the service asks of Raft (bootstrap,
// join, leave, shut down) and tell the Observer about it, so the phase says
// what the node is doing, not only what Raft reports afterwards. Each moves
// the tracker before it acts, on the caller's goroutine and with the
// caller's ctx (its trace context goes with the transition).

// Bootstrap moves the tracker to Bootstrapping and bootstraps Raft with cfg
// (raft.Raft.BootstrapCluster), returning its error. The node stays
// Bootstrapping until it sees the first leader. When Raft refuses and no
// earlier Bootstrap succeeded, the Bootstrapping intent is dropped: with
// raft.ErrCantBootstrap (the node has state already; Raft says it can be
// ignored) the node shows what its state says, Restarting or Ready. A
// refused second Bootstrap of a node that is still forming its cluster
// changes nothing.
//
// A service may call r.BootstrapCluster itself instead: the Observer then
// sees a configuration holding this node and no leader on a node that had
// no state, and shows Bootstrapping too, from its next poll.
func (o *Observer) Bootstrap(ctx context.Context, cfg raft.Configuration) error {
	o.d.Update(ctx, func(f *facts, _ *engine.Intents) { f.bootstrapping = true })
	err := o.r.BootstrapCluster(cfg).Error()
	o.d.Update(ctx, func(f *facts, _ *engine.Intents) {
		f.bootstrapped = f.bootstrapped || err == nil
		f.bootstrapping = f.bootstrapped
	})
	return err
}

// Join asks a leader to add this node, by calling join (the service's own
// request: an RPC to a seed, an HTTP call) until it returns nil, on the
// WithJoinBackoff schedule (by default otellifecycle.DefaultJoinBackoff:
// 8 attempts, waiting 0, 0.25, 0.5, 1, 2, 4, 8 and 16 s before them).
// Attempt i, counted from 0, shows as Joining{i} from when it starts
// (after its wait) until the next one starts.
//
// Join returns:
//
//   - nil when join returned nil: the node stays Joining until it sees a
//     leader and itself in the configuration, then is Ready (wait for that
//     with the tracker's WaitReady). Join returns nil at once, without
//     calling join, when the node is a member with a leader already.
//   - an error wrapping ctx's when ctx ends first; the Joining intent is
//     dropped, nothing is marked Failed, and the node shows what Raft says
//     (Starting, Restarting …): a cancelled join is the service changing
//     its mind, not a fault.
//   - ErrClosed after Close, Shutdown or Leave, or when one of them comes
//     while Join runs: Join then stops at once (join's ctx is cancelled)
//     and calls join no more.
//   - an error at once while another Join runs: one Join at a time.
//   - the last attempt's error, wrapped, when every attempt failed; the
//     node is then Failed{"join failed after N attempts: <error>"} until it
//     is a member with a leader (an operator may add it) or a new Join.
//
// join gets a ctx that ends with ctx or with the Observer, and should
// honour it.
func (o *Observer) Join(ctx context.Context, join func(ctx context.Context) error) error {
	return o.d.Join(ctx, join, joined)
}

// Fail marks the node Failed{reason} for a fault Raft cannot see: the
// service's own disk, a dependency, a check of its own. The node stays
// Failed, whatever Raft reports, until Recover; only Leave, Shutdown and
// Raft shutting down take precedence (see the mapping). An empty reason
// becomes "failed by the service". A Failed node keeps its Raft membership:
// Raft goes on replicating to it and may elect it.
func (o *Observer) Fail(ctx context.Context, reason string) {
	o.d.Fail(ctx, reason)
}

// Recover ends what Fail began: the node shows what Raft reports again, at
// once: Ready{n} when it is a member with a leader, or in a leader
// election shorter than the leaderless timeout. Without a Fail before, it
// does nothing.
func (o *Observer) Recover(ctx context.Context) {
	o.d.Recover(ctx)
}

// Leave is the graceful start of a departure: it moves the tracker to
// Draining (for good: Shutdown is the only way on) and ends a running Join,
// then, when this node is the leader and another voter can take over,
// hands leadership over (raft.Raft.LeadershipTransfer) and waits, within
// ctx, until this node knows the new leader (a node alone in its cluster
// has nobody to hand it to, and skips this); then it calls remove, when
// not nil: the service's
// own request that the leader remove this server (raft.Raft.RemoveServer
// on the leader, usually through an RPC), which it may skip for a planned
// restart that keeps the membership.
//
// While Draining, a removal from the configuration is expected and is not
// a failure, and Raft shutting down shows Stopping. Leave returns the
// transfer's, the wait's or remove's error; whatever it returns, the node
// is Draining and the service goes on with Shutdown. After Shutdown, Leave
// does nothing and returns ErrClosed.
func (o *Observer) Leave(ctx context.Context, remove func(ctx context.Context) error) error {
	if err := o.d.Leave(ctx); err != nil {
		return err // ErrClosed, after Shutdown
	}
	if o.r.State() == raft.Leader && o.hasOtherVoter() {
		if err := o.r.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("lifecycleraft: Leave: leadership transfer: %w", err)
		}
		if err := o.awaitOtherLeader(ctx); err != nil {
			return fmt.Errorf("lifecycleraft: Leave: waiting for the new leader: %w", err)
		}
	}
	if remove == nil {
		return nil
	}
	if err := remove(ctx); err != nil {
		return fmt.Errorf("lifecycleraft: Leave: %w", err)
	}
	return nil
}

// hasOtherVoter reports whether Raft's latest configuration has a voter
// besides this node, one that leadership can be handed to: a node alone in
// its cluster has none, and leaves without a transfer.
func (o *Observer) hasOtherVoter() bool {
	fut := o.r.GetConfiguration()
	if fut.Error() != nil {
		return true // let the transfer say what is wrong
	}
	for _, s := range fut.Configuration().Servers {
		if s.Suffrage == raft.Voter && s.ID != o.self {
			return true
		}
	}
	return false
}

// awaitOtherLeader waits until Raft names a leader other than this node.
// Raft has no notification for a follower's leader besides the
// observations this Observer already consumes, so it polls, briefly.
func (o *Observer) awaitOtherLeader(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, id := o.r.LeaderWithID(); id != "" && id != o.self {
			return nil
		}
		if o.r.State() == raft.Shutdown {
			return raft.ErrRaftShutdown
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Shutdown is how the service stops Raft: it ends a running Join, moves
// the tracker to Stopping (unless the Observer is closed), shuts Raft down
// and waits for it (raft.Raft.Shutdown, which also closes a closable
// transport), then closes the Observer. It returns Raft's error or
// Close's. Raft shutting down any other way (and not after Leave) is
// Failed. Shutdown is idempotent and safe to call concurrently with every
// method; every call returns the first one's result.
func (o *Observer) Shutdown() error {
	o.shutdownOnce.Do(func() {
		o.d.Stop()
		var err error
		if err = o.r.Shutdown().Error(); err != nil {
			err = fmt.Errorf("lifecycleraft: Shutdown: %w", err)
		}
		o.shutdownErr = errors.Join(err, o.Close())
	})
	return o.shutdownErr
}
