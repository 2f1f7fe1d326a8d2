// Command cluster-node is a tiny real cluster on loopback, wired to a
// lifecycle tracker everywhere: /metrics, /cluster/status, /readyz,
// /livez, slog, systemd (when run under it) and OpenTelemetry (traces to
// the console unless OTEL_* says otherwise).
//
// One node:
//
//	cluster-node -id n1 -listen 127.0.0.1:7101 -seeds 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
//
// The node whose address is the lowest seed bootstraps the cluster (after
// probing the other seeds, in case one already has a cluster); the others
// join it over HTTP with the origin's backoff (attempts 0–7 wait 0, 0.25,
// 0.5, 1, 2, 4, 8 and 16 s; -backoff changes it), and a node that runs out
// of attempts is Failed with the reason. -rejoin-after makes a failed node
// start over; POST /admin/fail and POST /admin/rejoin drive it by hand.
//
// Three nodes in one process, started out of order so the joiners retry
// before the bootstrapper is up (what `make demo` runs):
//
//	cluster-node demo
//
// SIGINT or SIGTERM drains, stops, flushes telemetry and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		err = demo(ctx, os.Args[2:])
	} else {
		err = single(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster-node:", err)
		os.Exit(1)
	}
}

func parseBackoff(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-backoff: %q is not a duration ≥ 0", f)
		}
		out = append(out, d)
	}
	return out, nil
}

const defaultBackoff = "0s,250ms,500ms,1s,2s,4s,8s,16s"

func single(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cluster-node", flag.ContinueOnError)
	id := fs.String("id", "", "node id (required)")
	listen := fs.String("listen", "127.0.0.1:7101", "host:port to serve on; other nodes reach this node here")
	seeds := fs.String("seeds", "", "comma-separated host:port of the seed nodes; the lowest bootstraps")
	backoff := fs.String("backoff", defaultBackoff, "wait before each join attempt, comma-separated")
	rejoin := fs.Duration("rejoin-after", 0, "after Failed, start over this much later (0: stay Failed)")
	extend := fs.Duration("systemd-extend-timeout", 0, "while joining, ask systemd for this much more start-up time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" || *seeds == "" {
		return errors.New("-id and -seeds are required")
	}
	b, err := parseBackoff(*backoff)
	if err != nil {
		return err
	}
	notify := sdnotify.New(sdnotify.WithExtendTimeout(*extend))
	cfg := config{
		ID: *id, Listen: *listen, Seeds: splitList(*seeds), Backoff: b, RejoinAfter: *rejoin,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), // the tracker's records carry node.id
		Sinks:  []otellifecycle.Sink{notify},
	}
	n, err := newNode(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := notify.StartWatchdog(ctx, n.tracker); err != nil {
		n.log.Warn("systemd watchdog not started", "error", err)
	}
	printURLs(cfg)
	return n.run(ctx)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func printURLs(cfg config) {
	base := "http://" + cfg.Listen
	fmt.Printf("node %s: %s/cluster/status  %s/readyz  %s/livez  %s/metrics\n", cfg.ID, base, base, base, base)
}

// demo runs three nodes in this process. The two joiners start first and
// retry; the bootstrapper (the lowest seed) starts after -delay.
func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cluster-node demo", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "address to serve on")
	port := fs.Int("port", 7101, "first port; the nodes use three in a row")
	delay := fs.Duration("delay", 1500*time.Millisecond, "how long the joiners wait for the bootstrapper")
	backoff := fs.String("backoff", defaultBackoff, "wait before each join attempt, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := parseBackoff(*backoff)
	if err != nil {
		return err
	}
	var cfgs []config
	var seeds []string
	for i := range 3 {
		seeds = append(seeds, fmt.Sprintf("%s:%d", *host, *port+i))
	}
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		cfgs = append(cfgs, config{
			ID: id, Listen: seeds[i], Seeds: seeds, Backoff: b,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), // the tracker's records carry node.id
		})
	}
	for _, addr := range seeds { // say so before claiming the nodes are up
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%w; the demo needs %s to %s: move it with -port (make demo DEMO_ARGS=\"-port 7201\")", err, seeds[0], seeds[2])
		}
		l.Close()
	}
	fmt.Println("A 3-node cluster on loopback; n1 bootstraps, n2 and n3 join. Ctrl-C stops it.")
	for _, c := range cfgs {
		printURLs(c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	start := func(c config) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := newNode(ctx, c)
			if err == nil {
				err = n.run(ctx)
			}
			errs <- err
		}()
	}
	start(cfgs[2])
	start(cfgs[1])
	select {
	case <-ctx.Done():
	case <-time.After(*delay):
		start(cfgs[0])
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
