package lifecycleetcdraft_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A service on etcd Raft is instrumented in three lines: Observe right
// after raft.StartNode (before the Ready loop starts), a deferred Shutdown
// in place of node.Stop, and obs.Ready(rd) in the Ready loop. This
// one-node cluster shows bootstrapping new cluster, ready (1 nodes),
// stopping.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tracker, err := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer tracker.Close()

	if err := serveOneNode(ctx, tracker); err != nil {
		panic(err)
	}
	for _, tr := range tracker.History() {
		fmt.Println(tr.Detail)
	}
	// Output:
	// bootstrapping new cluster
	// ready (1 nodes)
	// stopping
}

// serveOneNode starts a one-node cluster, serves until it is Ready and
// stops it: a service's node, in short.
func serveOneNode(ctx context.Context, tracker *otellifecycle.Tracker) error {
	storage := raft.NewMemoryStorage()
	node := raft.StartNode(&raft.Config{
		ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: storage,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		CheckQuorum: true, PreVote: true, // as etcd runs Raft; the Observer needs CheckQuorum
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	}, []raft.Peer{{ID: 1}})
	// readme:begin
	obs, err := lifecycleetcdraft.Observe(node, storage, tracker) // after raft.StartNode or RestartNode, before the Ready loop
	if err != nil {
		return err
	}
	defer obs.Shutdown() // Stopping, then node.Stop()
	// readme:end
	stopLoop := serveRaft(node, storage, obs) // the Ready loop, with obs.Ready(rd)
	defer stopLoop()                          // runs before obs.Shutdown
	_, err = tracker.WaitReady(ctx)
	return err
}

// serveRaft runs the service's Ready loop, as etcd's raftexample writes
// it, with the one line the Observer adds; a one-node cluster sends no
// messages and applies no data. It returns a function that ends the loop.
func serveRaft(node raft.Node, storage *raft.MemoryStorage, obs *lifecycleetcdraft.Observer) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		ticker := time.NewTicker(10 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				node.Tick()
			case rd := <-node.Ready():
				if !raft.IsEmptyHardState(rd.HardState) {
					_ = storage.SetHardState(rd.HardState)
				}
				_ = storage.Append(rd.Entries)
				for _, cc := range confChanges(rd) {
					node.ApplyConfChange(cc)
				}
				obs.Ready(rd) // after applying, before Advance
				node.Advance()
			}
		}
	}()
	return func() { close(done); <-ended }
}
