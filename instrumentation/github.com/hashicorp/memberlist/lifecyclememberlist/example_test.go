package lifecyclememberlist_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A service on memberlist: Create instead of memberlist.Create, and the
// Observer's Shutdown and Join instead of the node's. Its probes, its
// state gauge and its lifecycle trace then follow memberlist. This node
// starts a cluster (no seeds); the others give its address to Join.
func Example() {
	tracker, err := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer tracker.Close() // serve tracker.ReadyHandler() as /readyz, export its metrics …

	conf := memberlist.DefaultLANConfig()
	conf.Name = "node-1"
	conf.BindAddr, conf.BindPort = "127.0.0.1", 0
	conf.Logger = log.New(io.Discard, "", 0)

	node, err := lifecyclememberlist.Create(conf, tracker) // 1: instead of memberlist.Create(conf)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Shutdown()                                        // 2: Stopping, then memberlist's Shutdown
	if err := node.Join(context.Background(), nil); err != nil { // 3: Joining{0}, … Ready{n}
		log.Fatal(err)
	}
	fmt.Println(tracker.Current())

	// At the end of its life the node leaves gracefully: Draining, then
	// Stopping (the deferred Shutdown).
	if err := node.Leave(time.Second); err != nil {
		log.Fatal(err)
	}
	fmt.Println(tracker.Current())
	// Output:
	// ready (1 nodes)
	// draining
}
