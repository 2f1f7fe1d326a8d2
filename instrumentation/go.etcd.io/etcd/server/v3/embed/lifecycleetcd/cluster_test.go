package lifecycleetcd_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/embed"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/lifecyclekit/lifecycle/instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Timing of the test clusters: a heartbeat every 10 ms and a 100 ms
// election timeout (etcd's defaults are ten times as long); the
// leaderless timeout is long enough that no election under -race on a
// busy machine reaches it, short enough to test.
const (
	tickMs     = 10
	electionMs = 100
	leaderless = time.Second
	poll       = 50 * time.Millisecond
	// waitFor bounds every wait of the tests.
	waitFor = 30 * time.Second
)

// member is one etcd server embedded in the test process, with its own
// tracker and Observer, as a process of a service would have them. A
// restarted member keeps its name, data directory and URLs.
type member struct {
	name      string
	dir       string
	peerURL   url.URL
	clientURL url.URL

	enginetest.Node // its tracker and metrics, named by its name; Started when Observe returned
	e               *embed.Etcd
	obs             *lifecycleetcd.Observer
	startTook       time.Duration // how long embed.StartEtcd took
	close           func()        // closes etcd, unless it is closed already
	shutdown        func() error  // obs.Shutdown, which closes etcd, unless it is closed already
}

// cluster is a set of members on loopback ports in one process.
type cluster struct {
	t       *testing.T
	start   time.Time
	mu      sync.Mutex
	members []*member // every member ever started, stopped ones too
}

func newCluster(t *testing.T) *cluster {
	return &cluster{t: t, start: time.Now()}
}

// ports hands out loopback ports below Linux's ephemeral range (32768 and
// up by default), where no outgoing connection takes one between the
// moment a port is found free and the moment etcd binds it; each at most
// once per test binary.
var ports = struct {
	sync.Mutex
	next int
}{next: 20000 + rand.IntN(5000)}

// freeURL is a loopback URL on a port that was free a moment ago.
func freeURL(t testing.TB) url.URL {
	t.Helper()
	u, err := nextFreeURL()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// nextFreeURL is freeURL for the Example, which has no testing.TB.
func nextFreeURL() (url.URL, error) {
	ports.Lock()
	defer ports.Unlock()
	for ; ports.next < 32768; ports.next++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports.next))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports.next++
		return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
	}
	return url.URL{}, errors.New("no free loopback port below 32768")
}

// newMember names a member and gives it a data directory and URLs.
func (c *cluster) newMember(name string) *member {
	return &member{name: name, dir: filepath.Join(c.t.TempDir(), name), peerURL: freeURL(c.t), clientURL: freeURL(c.t)}
}

// initialCluster is etcd's --initial-cluster for members.
func initialCluster(members ...*member) string {
	var parts []string
	for _, m := range members {
		parts = append(parts, m.name+"="+m.peerURL.String())
	}
	return strings.Join(parts, ",")
}

// memberOptions are one member's options beyond the cluster's.
type memberOptions struct {
	tracker  []otellifecycle.Option
	observer []lifecycleetcd.Option
}

// config is m's embed.Config: quiet, fast, on its own loopback ports.
func config(m *member, initial, state string) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{m.peerURL}, []url.URL{m.peerURL}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{m.clientURL}, []url.URL{m.clientURL}
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = "lifecycle-test"
	cfg.ClusterState = state
	cfg.TickMs, cfg.ElectionMs = tickMs, electionMs
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	return cfg
}

// bootstrap starts a new cluster of the named members, at once, as etcd's
// --initial-cluster-state new does.
func (c *cluster) bootstrap(names []string, opts ...memberOptions) []*member {
	c.t.Helper()
	var ms []*member
	for _, n := range names {
		ms = append(ms, c.newMember(n))
	}
	initial := initialCluster(ms...)
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() { c.run(m, initial, embed.ClusterStateFlagNew, opts...) })
	}
	wg.Wait()
	return ms
}

// restart starts old again on its data directory and URLs, as a new
// process would: a new tracker, a new Observer.
func (c *cluster) restart(old *member, opts ...memberOptions) *member {
	c.t.Helper()
	m := &member{name: old.name, dir: old.dir, peerURL: old.peerURL, clientURL: old.clientURL}
	c.run(m, initialCluster(m), embed.ClusterStateFlagNew, opts...) // both ignored on a restart
	return m
}

// names returns n member names, m1 to mn.
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%d", i+1)
	}
	return out
}

// run starts m's etcd with the given initial cluster and state, and its
// tracker and Observer; the test's cleanup ends them.
func (c *cluster) run(m *member, initial, state string, opts ...memberOptions) {
	t := c.t
	var o memberOptions
	for _, x := range opts {
		o.tracker = append(o.tracker, x.tracker...)
		o.observer = append(o.observer, x.observer...)
	}
	m.Node = enginetest.Node{Name: m.name, Attrs: []attribute.KeyValue{attribute.String("node.id", m.name)}, WaitFor: waitFor}
	if err := m.Open(o.tracker...); err != nil {
		t.Error(err)
		return
	}
	began := time.Now()
	e, err := embed.StartEtcd(config(m, initial, state))
	m.startTook = time.Since(began)
	if err != nil {
		t.Errorf("%s: StartEtcd: %v", m.name, err)
		m.Close(t)
		return
	}
	// etcd's Close panics when called twice; Shutdown calls it.
	var once sync.Once
	m.e, m.close = e, func() { once.Do(e.Close) }
	m.obs, err = lifecycleetcd.Observe(e, m.Tracker, append([]lifecycleetcd.Option{
		lifecycleetcd.WithLeaderlessTimeout(leaderless),
		lifecycleetcd.WithPollInterval(poll),
	}, o.observer...)...)
	if err != nil {
		t.Errorf("%s: Observe: %v", m.name, err)
		m.close()
		m.Close(t)
		return
	}
	m.Started = time.Now()
	m.shutdown = func() error {
		err := ErrNotShutDown
		once.Do(func() { err = m.obs.Shutdown() })
		return err
	}
	t.Cleanup(func() {
		if err := m.obs.Close(); err != nil {
			t.Errorf("%s: Observer.Close: %v", m.name, err)
		}
		m.close()
		m.Close(t)
	})
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
}

// ErrNotShutDown is what member.shutdown returns when etcd was closed
// already, by the test.
var ErrNotShutDown = errors.New("etcd was closed already")

// crash stops m's server the way a crash would: no leadership transfer,
// no Shutdown (EtcdServer.HardStop), then closes the rest of etcd.
func (m *member) crash() {
	m.e.Server.HardStop()
	m.close()
}

// running says whether m's server runs.
func (m *member) running() bool {
	select {
	case <-m.e.Server.StopNotify():
		return false
	default:
		return true
	}
}

// live returns the members whose servers run.
func (c *cluster) live() []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*member
	for _, m := range c.members {
		if m.running() {
			out = append(out, m)
		}
	}
	return out
}

// leaderNow returns the running member that leads, or nil.
func (c *cluster) leaderNow() *member {
	for _, m := range c.live() {
		if m.e.Server.Leader() == m.e.Server.MemberID() {
			return m
		}
	}
	return nil
}

// leader waits for a leader among the running members and returns it.
func (c *cluster) leader() *member {
	c.t.Helper()
	var l *member
	c.eventually("a leader", func() bool {
		l = c.leaderNow()
		return l != nil
	})
	return l
}

// others returns the running members that are not m.
func (c *cluster) others(m *member) []*member {
	return slices.DeleteFunc(c.live(), func(x *member) bool { return x == m })
}

// eventually polls cond until it holds, failing the test after waitFor.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	testsupport.Eventually(c.t, what, waitFor, cond)
}

// id is m's member ID.
func (m *member) id() types.ID { return m.e.Server.MemberID() }

// waitLeaderOtherThan waits until m's server knows a leader that is not
// old and returns when it did.
func (m *member) waitLeaderOtherThan(t testing.TB, old types.ID) time.Time {
	t.Helper()
	testsupport.Eventually(t, m.name+": a new leader", waitFor, func() bool {
		l := m.e.Server.Leader()
		return l != 0 && l != old
	})
	return time.Now()
}
