package main

import (
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"time"
)

// flags is the one-node command line, read.
type flags struct {
	node       config
	bootstrap  bool     // form a new cluster of this node alone
	seeds      []string // HTTP host:port of every node, as each advertises itself
	drainDelay time.Duration
}

// parseFlags reads the one-node command line. A node bootstraps when told
// to, or when it is the lowest seed and its data directory is empty.
func parseFlags(args []string) (flags, error) {
	fs := flag.NewFlagSet("raft-node", flag.ContinueOnError)
	id := fs.String("id", "", "node id, the Raft server ID (required)")
	listen := fs.String("listen", "127.0.0.1:7101", "HTTP host:port; other nodes reach this node here")
	raftAddr := fs.String("raft", "127.0.0.1:7201", "Raft TCP host:port")
	advertise := fs.String("advertise", "", "HTTP host:port other nodes reach this node at, as -seeds writes it (default: -listen)")
	raftAdvertise := fs.String("raft-advertise", "", "Raft host:port the cluster configuration stores, a name or an IP (default: -raft; needed when -raft binds 0.0.0.0)")
	seeds := fs.String("seeds", "", "comma-separated HTTP host:port of every node; the lowest bootstraps")
	data := fs.String("data", "", "directory of the Raft log and snapshots (required)")
	boot := fs.Bool("bootstrap", false, "bootstrap a new cluster (when -data holds no Raft state)")
	grpcAddr := fs.String("grpc", "", "serve grpc.health.v1 on this host:port (default: off)")
	admin := fs.String("admin", "", "serve the unauthenticated admin endpoints on this loopback host:port (default: off)")
	leaderless := fs.Duration("leaderless", defaultTiming.Leaderless, "how long without a Raft leader before the node is Failed")
	drainDelay := fs.Duration("drain-delay", 0, "on SIGTERM, how long to stay Draining (not ready, still serving) before stopping")
	if err := fs.Parse(args); err != nil {
		return flags{}, err
	}
	if *id == "" || *data == "" {
		return flags{}, errors.New("-id and -data are required")
	}
	timing := defaultTiming
	timing.Leaderless = *leaderless
	f := flags{
		node: config{
			ID: *id, Listen: *listen, Advertise: *advertise, Raft: *raftAddr, RaftAdvertise: *raftAdvertise,
			GRPC: *grpcAddr, Admin: *admin, Dir: *data, Timing: timing,
			Logger: consoleLogger(), Globals: true,
		},
		bootstrap:  *boot,
		seeds:      splitList(*seeds),
		drainDelay: *drainDelay,
	}
	self := *listen
	if *advertise != "" {
		self = *advertise
	}
	if !f.bootstrap && len(f.seeds) > 0 && slices.Min(f.seeds) == self && emptyDir(*data) {
		f.bootstrap = true
	}
	return f, nil
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

// emptyDir reports whether dir is missing or holds nothing.
func emptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return (err != nil && errors.Is(err, os.ErrNotExist)) || (err == nil && len(entries) == 0)
}
