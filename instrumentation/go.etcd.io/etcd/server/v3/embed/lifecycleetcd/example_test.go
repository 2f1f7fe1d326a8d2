package lifecycleetcd_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A service that embeds etcd is instrumented in three lines: Observe right
// after embed.StartEtcd, a deferred Shutdown in place of e.Close, and
// obs.Err in place of e.Err. This one-member cluster shows bootstrapping
// new cluster, ready (1 nodes), stopping.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "lifecycleetcd-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	tracker, err := otellifecycle.New(otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer tracker.Close()

	if err := serveEtcd(ctx, tracker, exampleConfig(dir)); err != nil {
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

// serveEtcd starts etcd, serves until it is Ready and stops it: a
// service's member, in short.
func serveEtcd(ctx context.Context, tracker *otellifecycle.Tracker, cfg *embed.Config) error {
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	// readme:begin
	obs, err := lifecycleetcd.Observe(e, tracker) // right after embed.StartEtcd
	if err != nil {
		e.Close()
		return err
	}
	defer obs.Shutdown() // Stopping, then e.Close(), which the service no longer calls
	select {
	case <-e.Server.ReadyNotify():
	case err := <-obs.Err(): // Observe takes e.Err() over
		return err
	}
	// readme:end
	_, err = tracker.WaitReady(ctx)
	return err
}

// exampleConfig is a one-member etcd in dir, on free loopback ports,
// logging nothing.
func exampleConfig(dir string) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	peer, client := exampleURL(), exampleURL()
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	return cfg
}

func exampleURL() url.URL {
	u, err := nextFreeURL()
	if err != nil {
		panic(err)
	}
	return u
}
