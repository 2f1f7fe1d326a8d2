package lifecycleraft_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A service that joins an existing Raft cluster: Observe right after
// raft.NewRaft, Shutdown instead of r.Shutdown, and Join around its own
// join request (the node that starts a cluster calls Bootstrap instead).
// The tracker then shows starting, joining cluster (attempt 0), ready
// (2 nodes), and the service calls none of its To* methods.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seed, seedTransport := exampleRaft("seed") // the cluster the service joins
	defer func() { _ = seed.Shutdown().Error() }()
	_ = seed.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: "seed", Address: seedTransport.LocalAddr()},
	}}).Error()

	tracker, err := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer tracker.Close()
	r, transport := exampleRaft("n2") // the service's own Raft, as it makes it
	seedTransport.Connect(transport.LocalAddr(), transport)
	transport.Connect(seedTransport.LocalAddr(), seedTransport)
	askSeedToAddMe := func(ctx context.Context) error { // the service's join RPC
		for seed.State() != raft.Leader {
			time.Sleep(10 * time.Millisecond)
		}
		return seed.AddVoter("n2", transport.LocalAddr(), 0, time.Second).Error()
	}

	obs, err := lifecycleraft.Observe(r, tracker, "n2")
	if err != nil {
		panic(err)
	}
	defer obs.Shutdown()
	if err := obs.Join(ctx, askSeedToAddMe); err != nil {
		panic(err)
	}

	s, err := tracker.WaitReady(ctx)
	if err != nil {
		panic(err)
	}
	for _, tr := range tracker.History() {
		fmt.Println(tr.Detail)
	}
	fmt.Println(s.IsReady())
	// Output:
	// joining cluster (attempt 0)
	// ready (2 nodes)
	// true
}

// exampleRaft makes a Raft node on in-memory storage and transport (a
// service would use raft-boltdb and raft.NewTCPTransport).
func exampleRaft(id raft.ServerID) (*raft.Raft, *raft.InmemTransport) {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.LogOutput = io.Discard
	store := raft.NewInmemStore()
	_, transport := raft.NewInmemTransport("")
	r, err := raft.NewRaft(conf, fsm{}, store, store, raft.NewInmemSnapshotStore(), transport)
	if err != nil {
		panic(err)
	}
	return r, transport
}
