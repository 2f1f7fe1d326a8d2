package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// openRaft opens the node's BoltDB store and snapshots in its data
// directory, its TCP transport, and Raft itself, with the node's timing.
func (n *node) openRaft(ctx context.Context) (err error) {
	if err = os.MkdirAll(n.cfg.Dir, 0o700); err != nil {
		return err
	}
	if n.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(n.cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second}, // a second process on the same dir fails, not hangs
	}); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStore(n.cfg.Dir, 1, io.Discard)
	if err != nil {
		return err
	}
	if n.existing, err = raft.HasExistingState(n.bolt, n.bolt, snaps); err != nil {
		return err
	}
	if n.trans, err = n.transport(ctx); err != nil {
		return err
	}
	n.r, err = raft.NewRaft(raftConfig(n.cfg.ID, n.cfg.Timing), fsm{}, n.bolt, n.bolt, snaps, n.trans)
	return err
}

// raftConfig is Raft's configuration for node id with timing t.
func raftConfig(id string, t timing) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.HeartbeatTimeout = t.Heartbeat
	rc.ElectionTimeout = t.Heartbeat
	rc.LeaderLeaseTimeout = t.Heartbeat / 2
	rc.LogOutput = io.Discard // the console has the tracker's lines, not Raft's
	return rc
}

// transport is Raft's TCP transport on cfg.Raft, advertising
// cfg.RaftAdvertise when given.
func (n *node) transport(ctx context.Context) (*raft.NetworkTransport, error) {
	var advertise net.Addr
	if n.cfg.RaftAdvertise != "" {
		var err error
		if advertise, err = resolve(ctx, n.cfg.RaftAdvertise); err != nil {
			return nil, fmt.Errorf("-raft-advertise: %w", err)
		}
	}
	trans, err := raft.NewTCPTransport(n.cfg.Raft, advertise, 3, 2*time.Second, io.Discard)
	if err != nil {
		if advertise == nil && unspecified(n.cfg.Raft) {
			return nil, fmt.Errorf("raft transport on %s: %w: give -raft-advertise, the address other nodes reach this one's Raft at", n.cfg.Raft, err)
		}
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	return trans, nil
}

// closeRaft shuts Raft down (a no-op once shut down) and closes its
// transport and store.
func (n *node) closeRaft() error {
	var errs []error
	if n.r != nil {
		errs = append(errs, n.r.Shutdown().Error())
	}
	if n.trans != nil {
		// Close stops the listener only: close the pooled connections too,
		// as a process exit would, so the peers' handlers of them end.
		errs = append(errs, n.trans.Close())
		n.trans.CloseStreams()
	}
	if n.bolt != nil {
		errs = append(errs, n.bolt.Close())
	}
	return errors.Join(errs...)
}

// raftAddr is the address the cluster's configuration holds for this node:
// RaftAdvertise, or the bound one (what port 0 picked).
func (n *node) raftAddr() raft.ServerAddress {
	if n.cfg.RaftAdvertise != "" {
		return raft.ServerAddress(n.cfg.RaftAdvertise)
	}
	return n.trans.LocalAddr()
}

// selfOnly is the configuration of a new cluster of this node alone, the
// one a bootstrapping node starts.
func (n *node) selfOnly() raft.Configuration {
	return raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.ID), Address: n.raftAddr()},
	}}
}

// resolve turns host:port into the TCP address Raft's transport
// advertises. A new pod's or container's own DNS name may take a while to
// exist, so it retries for up to a minute.
func resolve(ctx context.Context, hostport string) (net.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		addr, err := net.ResolveTCPAddr("tcp", hostport)
		if err == nil {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

// unspecified reports whether hostport binds every interface.
func unspecified(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// fsm is the replicated state machine: this example replicates nothing but
// its membership, which Raft keeps itself.
type fsm struct{}

func (fsm) Apply(*raft.Log) any                    { return nil }
func (fsm) Snapshot() (raft.FSMSnapshot, error)    { return snapshot{}, nil }
func (fsm) Restore(rc io.ReadCloser) error         { return rc.Close() }
func (snapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (snapshot) Release()                          {}

type snapshot struct{}
