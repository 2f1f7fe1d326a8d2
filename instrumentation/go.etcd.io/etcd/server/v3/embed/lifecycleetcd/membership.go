package lifecycleetcd

import (
	"context"
	"fmt"
)

// The helpers in this file run what the service asks of the server (leave,
// stop) and tell the Observer about it, so the phase says what the member
// is doing, not only what the server reports afterwards. Each moves the
// tracker before it acts, on the caller's goroutine and with the caller's
// ctx (its trace context goes with the transition).
//
// There is no Join: an etcd member is added to its cluster (MemberAdd, or
// MemberAddAsLearner) before it starts, and then started with
// InitialClusterState "existing"; the Observer shows it Joining until it
// serves as a voter (see the package documentation).

// Fail marks the member Failed{reason} for a fault etcd cannot see: the
// service's own disk, a dependency, a check of its own. The member stays
// Failed, whatever the server reports, until Recover; only Leave, Shutdown
// and the server stopping take precedence (see the mapping). An empty
// reason becomes "failed by the service". A Failed member keeps its place
// in the cluster.
func (o *Observer) Fail(ctx context.Context, reason string) {
	o.d.Fail(ctx, reason)
}

// Recover ends what Fail began: the member shows what the server reports
// again, at once (Ready{n} when it serves as a voter with a leader).
// Without a Fail before, it does nothing.
func (o *Observer) Recover(ctx context.Context) {
	o.d.Recover(ctx)
}

// Leave is the graceful start of a departure: it moves the tracker to
// Draining (for good: Shutdown is the only way on); then, when this member
// is the leader, it hands leadership to the voter etcd finds best
// connected (EtcdServer.TryTransferLeadershipOnShutdown, within etcd's
// request timeout); then it calls remove, when not nil: the service's
// request that another member remove this one (clientv3's
// Cluster.MemberRemove against the other members' endpoints, as etcdctl
// member remove does; etcd then stops the removed server by itself, a
// second after it applies the removal), which it may skip for a planned
// restart that keeps the membership. etcd refuses to remove a voter while
// the cluster would be left without a healthy quorum, and until the
// remaining members have been connected for 5 s
// (--strict-reconfig-check), so remove should retry within ctx.
//
// While Draining, a removal is the plan, not a failure, and the server
// stopping shows Stopping. Leave returns the transfer's or remove's
// error; whatever it returns, the member is Draining and the service goes
// on with Shutdown. After Shutdown, Leave does nothing and returns
// ErrClosed.
func (o *Observer) Leave(ctx context.Context, remove func(ctx context.Context) error) error {
	if err := o.d.Leave(ctx); err != nil {
		return err // ErrClosed, after Shutdown
	}
	if err := o.e.Server.TryTransferLeadershipOnShutdown(); err != nil {
		return fmt.Errorf("lifecycleetcd: Leave: leadership transfer: %w", err)
	}
	if remove == nil {
		return nil
	}
	if err := remove(ctx); err != nil {
		return fmt.Errorf("lifecycleetcd: Leave: %w", err)
	}
	return nil
}

// Shutdown is how the service stops the server: it moves the tracker to
// Stopping (unless the Observer is closed), closes etcd (embed.Etcd.Close:
// a leader hands its leadership over, the server stops, the listeners
// close) and then the Observer. The service must not close etcd itself
// as well: etcd's Close panics when called twice. It returns Close's error: etcd's Close
// reports none. The server stopping any other way (and not after Leave)
// is Failed. Shutdown is idempotent and safe to call concurrently with
// every method; every call returns once etcd is closed, with the first
// call's result.
func (o *Observer) Shutdown() error {
	o.shutdownOnce.Do(func() {
		o.d.Stop()
		o.e.Close()
	})
	return o.Close()
}
