package lifecyclememberlist_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// within bounds every wait of these tests. Memberlist's failure detection
// takes a few seconds with testConfig; the rest takes milliseconds.
const within = 20 * time.Second

// testConfig is memberlist's local config on 127.0.0.1 with a port of the
// kernel's choosing, quiet, with probes and gossip fast enough for tests
// and slow enough for -race on a shared machine: a member that dies is
// declared dead in about a second.
func testConfig(name string) *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.Name = name
	c.BindAddr = "127.0.0.1"
	c.BindPort = 0
	c.Logger = log.New(io.Discard, "", 0)
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	c.GossipToTheDeadTime = 2 * time.Second
	c.TCPTimeout = 500 * time.Millisecond
	return c
}

// node is one instrumented member of a test cluster: its Observer, its
// tracker and the ManualReader of the tracker's meter.
type node struct {
	obs    *lifecyclememberlist.Observer
	tr     *otellifecycle.Tracker
	reader *sdkmetric.ManualReader
}

// addr is the address other nodes join this one at.
func (n *node) addr() string { return n.obs.Memberlist().LocalNode().Address() }

// setup holds what a test changes in a node before it is created.
type setup struct {
	conf    func(*memberlist.Config)
	opts    []lifecyclememberlist.Option
	tracker []otellifecycle.Option
}

// start creates an instrumented node on testConfig(name), changed by s.
// Its memberlist is shut down, and its tracker closed, when the test ends.
func start(t *testing.T, name string, s setup) *node {
	t.Helper()
	if _, loaded := memberlistsOf.LoadOrStore(t, true); !loaded {
		t.Cleanup(func() { // after every node of t is shut down
			memberlistsOf.Delete(t)
			awaitMemberlistGone(t)
		})
	}
	tr, reader := newTracker(t, s.tracker...)
	conf := testConfig(name)
	if s.conf != nil {
		s.conf(conf)
	}
	obs, err := lifecyclememberlist.Create(conf, tr, s.opts...)
	if err != nil {
		t.Fatalf("Create %s: %v", name, err)
	}
	t.Cleanup(func() { _ = obs.Shutdown() })
	return &node{obs: obs, tr: tr, reader: reader}
}

// memberlistsOf holds the tests that started a node and have not ended.
var memberlistsOf sync.Map

// awaitMemberlistGone waits, within the deadline, until no goroutine runs
// memberlist's code. Memberlist's Shutdown returns before a probe in flight
// ends: the probe waits for its ack until ProbeInterval, scaled up by a poor
// health score, has passed. goleak retries for less than half a second, so
// without this wait it could report the probe of a test that ended last;
// with it, the memberlist goroutines that are still there after the
// deadline fail the test that left them.
func awaitMemberlistGone(t *testing.T) {
	buf := make([]byte, 1<<20)
	testsupport.Poll(t, "memberlist goroutines gone after Shutdown", within, 5*time.Millisecond, func() error {
		if n := runtime.Stack(buf, true); bytes.Contains(buf[:n], []byte("github.com/hashicorp/memberlist.")) {
			return fmt.Errorf("still running:\n%s", buf[:n])
		}
		return nil
	})
}

// newTracker returns a quiet tracker on a real SDK meter with a
// ManualReader, closed when the test ends.
func newTracker(t *testing.T, opts ...otellifecycle.Option) (*otellifecycle.Tracker, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tr, err := otellifecycle.New(append([]otellifecycle.Option{
		otellifecycle.WithMeterProvider(mp),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	if err != nil {
		t.Fatalf("otellifecycle.New: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr, reader
}

// cluster starts size nodes named n0, n1 …: n0 starts the cluster (Join
// without seeds), the others join it one by one. It returns once every
// node is Ready{size}.
func cluster(t *testing.T, size int) []*node {
	t.Helper()
	nodes := make([]*node, size)
	for i := range nodes {
		nodes[i] = start(t, fmt.Sprintf("n%d", i), setup{})
		var seeds []string
		if i > 0 {
			seeds = []string{nodes[0].addr()}
		}
		if err := nodes[i].obs.Join(t.Context(), seeds); err != nil {
			t.Fatalf("n%d: Join: %v", i, err)
		}
	}
	for _, n := range nodes {
		waitFor(t, n, otellifecycle.ReadyState(size))
	}
	return nodes
}

// waitFor waits, within the deadline, until n's tracker is in want, and
// returns when it saw it there.
func waitFor(t *testing.T, n *node, want otellifecycle.State) time.Time {
	t.Helper()
	testsupport.WaitState(t, n.tr, n.name()+": "+want.Detail(), within, func(s otellifecycle.State) bool { return s == want })
	return time.Now()
}

// waitFailed waits, within the deadline, until n's tracker is Failed,
// whatever the reason, and returns when it saw it so.
func waitFailed(t *testing.T, n *node) time.Time {
	t.Helper()
	testsupport.WaitState(t, n.tr, n.name()+": failed", within, func(s otellifecycle.State) bool { return s.Phase == otellifecycle.Failed })
	return time.Now()
}

// name is the node's memberlist name.
func (n *node) name() string { return n.obs.Memberlist().LocalNode().Name }

// states returns the states n's tracker went through, oldest first,
// Starting excluded.
func states(n *node) []otellifecycle.State {
	var out []otellifecycle.State
	for _, tr := range n.tr.History() {
		out = append(out, tr.To)
	}
	return out
}

// assertTail fails the test unless n's last states are want, in order.
func assertTail(t *testing.T, n *node, want ...otellifecycle.State) {
	t.Helper()
	got := states(n)
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Fatalf("%s: states %v, want them to end in %v", n.name(), got, want)
	}
}

// unusedAddr returns a 127.0.0.1 address that nothing listens on: a seed
// that is down.
func unusedAddr(t *testing.T) (addr string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), port
}
