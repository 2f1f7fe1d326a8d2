//go:build e2e && fleet

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// The environment TestFleet gives each child process: which nodes it runs
// and where it reports their ground truth.
const (
	envFleetFeed    = "FLEET_FEED"    // host:port of the parent's ground-truth listener
	envFleetFirst   = "FLEET_FIRST"   // index of the child's first node
	envFleetCount   = "FLEET_COUNT"   // how many nodes the child runs
	envFleetSeed    = "FLEET_SEED"    // the run's seed; node i's RNG is seeded with (seed, i)
	envFleetCluster = "FLEET_CLUSTER" // the n of Ready{n}

	envFleetHeapProfile = "FLEET_HEAP_PROFILE" // where the child writes a heap profile before its nodes shut down
)

// fleetRecord is one line of a child's ground-truth feed: a transition of
// one node, as the simulator made it. A child's first line after its
// nodes' initial states has Up set instead: that many nodes are running.
type fleetRecord struct {
	Node    int          `json:"node"`
	Seq     uint64       `json:"seq"`     // the tracker's Seq; 0 for the initial Starting
	Phase   string       `json:"phase"`   // the label entered
	Entries int64        `json:"entries"` // entries into Phase so far, this one included: cluster_lifecycle_phase_entries_total once exported
	At      int64        `json:"at"`      // Unix ns, just before Tracker.Set
	Up      int          `json:"up,omitempty"`
	Memory  *fleetMemory `json:"memory,omitempty"` // in a child's last line, before its nodes shut down
}

// fleetMemory is where a child's memory is, as its Go runtime sees it.
type fleetMemory struct {
	HeapInuse, StackInuse, Sys uint64
	Goroutines, Nodes          int
}

func (r fleetRecord) at() time.Time { return time.Unix(0, r.At) }

// fleetInstance is node i's service.instance.id, and so its Prometheus
// instance label.
func fleetInstance(i int) string { return fmt.Sprintf("fleet-%04d", i) }

// TestFleetNodes is a child process of TestFleet: it runs the nodes the
// environment names, each with providers of its own exporting OTLP as
// raft-node does, until SIGTERM or until the parent closes the feed, then
// shuts every node down (Stopping, Close, providers flushed). It skips
// when run by hand.
func TestFleetNodes(t *testing.T) {
	feedAddr := os.Getenv(envFleetFeed)
	if feedAddr == "" {
		t.Skip("a child of TestFleet: runs only in the environment TestFleet gives it")
	}
	num := func(key string) int {
		v, err := strconv.Atoi(os.Getenv(key))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return v
	}
	first, count, seed, cluster := num(envFleetFirst), num(envFleetCount), num(envFleetSeed), num(envFleetCluster)

	if os.Getenv(envFleetHeapProfile) != "" {
		runtime.MemProfileRate = 4096 // the nodes' allocations, not a 512 KiB sample of them
	}
	conn, err := net.Dial("tcp", feedAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { _, _ = io.Copy(io.Discard, conn); stop() }() // the parent closed the feed, or is gone
	feed := &fleetFeed{enc: json.NewEncoder(conn), stop: stop}

	nodes := make([]*fleetNode, count)
	for i := range nodes {
		if nodes[i], err = newFleetNode(ctx, first+i, feed); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		// As a node shuts down: Stopping, then Close (which flushes the
		// final state), then the providers, all nodes side by side.
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				n.tracker.ToStopping(context.Background())
				if err := n.tracker.Close(); err != nil {
					t.Errorf("%s: tracker.Close: %v", fleetInstance(n.index), err)
				}
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := n.providers.Shutdown(sctx); err != nil {
					t.Errorf("%s: providers.Shutdown: %v", fleetInstance(n.index), err)
				}
			})
		}
		wg.Wait()
	}()
	feed.send(fleetRecord{Up: count})
	t.Logf("nodes %s … %s running", fleetInstance(first), fleetInstance(first+count-1))

	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			simulate(ctx, rand.New(rand.NewPCG(uint64(seed), uint64(n.index))), cluster, n.set)
		})
	}
	<-ctx.Done()
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mem := &fleetMemory{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine(), Nodes: count}
	feed.send(fleetRecord{Memory: mem})
	t.Logf("stopping: %d nodes made %d transitions; heap in use %d MiB, stacks %d MiB, %d goroutines",
		count, feed.sent(), ms.HeapInuse>>20, ms.StackInuse>>20, mem.Goroutines)
	if path := os.Getenv(envFleetHeapProfile); path != "" {
		if f, err := os.Create(path); err != nil {
			t.Error(err)
		} else {
			if err := pprof.WriteHeapProfile(f); err != nil {
				t.Error(err)
			}
			f.Close()
		}
	}
}

// fleetFeed sends records to the parent, one JSON line each. A failed
// send (the parent is gone) stops the child.
type fleetFeed struct {
	mu   sync.Mutex
	enc  *json.Encoder
	n    int
	stop func()
	dead bool
}

func (f *fleetFeed) send(r fleetRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return
	}
	if f.enc.Encode(r) != nil {
		f.dead = true
		f.stop()
		return
	}
	f.n++
}

func (f *fleetFeed) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// fleetNode is one simulated node: a tracker with providers of its own
// (service.name fleet-node, its own service.instance.id), as raft-node
// has. The simulator is its only writer.
type fleetNode struct {
	index     int
	providers *otelsetup.Providers
	tracker   *otellifecycle.Tracker
	feed      *fleetFeed
	seq       uint64
	entries   map[string]int64
}

func newFleetNode(ctx context.Context, i int, feed *fleetFeed) (*fleetNode, error) {
	n := &fleetNode{index: i, feed: feed, entries: map[string]int64{}}
	var err error
	// Hundreds of nodes share each child process: each has providers of
	// its own, and none sets the process's globals.
	if n.providers, err = otelsetup.Setup(ctx, otelsetup.WithServiceName("fleet-node"), otelsetup.WithInstanceID(fleetInstance(i)), otelsetup.WithoutGlobals()); err != nil {
		return nil, err
	}
	// The slog record of each transition is dropped: 250 nodes writing to
	// one child's log would only bury it. The OpenTelemetry log records
	// go to the collector as from any node.
	if n.tracker, err = otellifecycle.New(append(n.providers.TrackerOptions(),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))...); err != nil {
		return nil, err
	}
	feed.send(fleetRecord{Node: i, Phase: otellifecycle.StartingState().Label(), At: time.Now().UnixNano()})
	return n, nil
}

// set makes one transition and reports it to the parent.
func (n *fleetNode) set(s otellifecycle.State) {
	n.seq++
	n.entries[s.Label()]++
	at := time.Now()
	if err := n.tracker.Set(context.Background(), s); err != nil {
		panic(fmt.Sprintf("%s: Set(%v): %v", fleetInstance(n.index), s, err)) // the simulator makes only valid states
	}
	n.feed.send(fleetRecord{Node: n.index, Seq: n.seq, Phase: s.Label(), Entries: n.entries[s.Label()], At: at.UnixNano()})
}

// failureReasons are what a simulated node fails with.
var failureReasons = []string{
	"no leader for more than 10s",
	"disk full: /var/lib/node",
	"catalog checksum mismatch",
	"removed from the configuration",
	"dependency unreachable: 10.0.0.7:5432",
}

// simulate drives one node's lifecycle until ctx ends, its randomness all
// from rng (seeded per node, so a run is repeatable up to scheduling):
//
//	Starting 0.5–5 s (booting; this also spreads the fleet's start)
//	Joining{0} … Joining{k}, k of 0–3 failed attempts, each 0.25–2 s
//	Ready{cluster} for 20–60 s, then one of:
//	  half the time: the cluster changed, join again (with retries)
//	  half the time: Failed{reason} 2–8 s → Restarting 1–5 s →
//	    Ready{cluster} on its own state, or (half of those) join again
func simulate(ctx context.Context, rng *rand.Rand, cluster int, set func(otellifecycle.State)) {
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	sleep := func(d time.Duration) bool {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	if !sleep(between(500*time.Millisecond, 5*time.Second)) {
		return
	}
	join := true
	for {
		if join {
			failed := []uint32{0, 0, 1, 1, 2, 3}[rng.IntN(6)]
			for a := uint32(0); a <= failed; a++ {
				set(otellifecycle.JoiningState(a))
				if !sleep(between(250*time.Millisecond, 2*time.Second)) {
					return
				}
			}
			set(otellifecycle.ReadyState(cluster))
		}
		if !sleep(between(20*time.Second, 60*time.Second)) {
			return
		}
		if join = rng.IntN(2) == 0; join {
			continue
		}
		set(otellifecycle.FailedState(failureReasons[rng.IntN(len(failureReasons))]))
		if !sleep(between(2*time.Second, 8*time.Second)) {
			return
		}
		set(otellifecycle.RestartingState())
		if !sleep(between(time.Second, 5*time.Second)) {
			return
		}
		if join = rng.IntN(2) == 0; !join {
			set(otellifecycle.ReadyState(cluster))
		}
	}
}
