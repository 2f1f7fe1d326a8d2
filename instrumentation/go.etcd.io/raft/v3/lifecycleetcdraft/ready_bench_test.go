package lifecycleetcdraft_test

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft"
)

// observed starts a one-node cluster with a real Observer, its leader
// elected, and returns it with the node and its storage.
func observed(b *testing.B) (raft.Node, *raft.MemoryStorage, *lifecycleetcdraft.Observer) {
	b.Helper()
	storage := raft.NewMemoryStorage()
	rn := raft.StartNode(raftConfig(1, storage, nodeOptions{}), []raft.Peer{{ID: 1}})
	b.Cleanup(rn.Stop)
	obs, err := lifecycleetcdraft.Observe(rn, storage, newTracker(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = obs.Close() })
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for rn.Status().Lead != 1 {
		select {
		case rd := <-rn.Ready():
			handle(rn, storage, nil, rd)
		case <-ticker.C:
			rn.Tick()
		}
	}
	return rn, storage, obs
}

// handle is one turn of a Ready loop (obs.Ready included when obs is not
// nil).
func handle(rn raft.Node, storage *raft.MemoryStorage, obs *lifecycleetcdraft.Observer, rd raft.Ready) {
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = storage.SetHardState(rd.HardState)
	}
	_ = storage.Append(rd.Entries)
	for _, cc := range confChanges(rd) {
		rn.ApplyConfChange(cc)
	}
	if obs != nil {
		obs.Ready(rd)
	}
	rn.Advance()
}

// What obs.Ready costs a Ready loop: one proposal and one turn of the
// loop per operation on a one-node cluster, without the call (the
// baseline) and with it.
func BenchmarkReadyLoop(b *testing.B) {
	for _, hook := range []bool{false, true} {
		name := "without obs.Ready"
		if hook {
			name = "with obs.Ready"
		}
		b.Run(name, func(b *testing.B) {
			rn, storage, obs := observed(b)
			if !hook {
				obs = nil
			}
			data := []byte("x")
			b.ReportAllocs()
			for b.Loop() {
				if err := rn.Propose(context.Background(), data); err != nil {
					b.Fatal(err)
				}
				handle(rn, storage, obs, <-rn.Ready())
			}
		})
	}
}

// The call alone: a Ready with nothing to tell (the common case), one with
// 64 committed data entries to look through, and one with a SoftState (a
// signal to the Observer's goroutine, merged when one is pending).
func BenchmarkReadyHook(b *testing.B) {
	_, _, obs := observed(b)
	for _, bc := range []struct {
		name string
		rd   raft.Ready
	}{
		{"empty", readyWith(false)},
		{"64 entries", readyWith(false, make([]pb.EntryType, 64)...)},
		{"soft state", readyWith(true)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obs.Ready(bc.rd)
			}
		})
	}
}
