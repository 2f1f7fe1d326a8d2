package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// waitFor bounds every wait of the tests.
const waitFor = 20 * time.Second

// testCluster is the demo's cluster on ports the kernel picks (HTTP
// listeners and Raft transports on 127.0.0.1:0), with BoltDB in a test
// directory; it is stopped in the test's cleanup.
func testCluster(t *testing.T) *cluster {
	t.Helper()
	quietOTel(t)
	dir := t.TempDir()
	c := &cluster{}
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		c.cfgs = append(c.cfgs, config{
			ID: id, Listen: "127.0.0.1:0", Raft: "127.0.0.1:0", Dir: filepath.Join(dir, id),
			Timing: timing{
				Heartbeat: defaultTiming.Heartbeat, Poll: defaultTiming.Poll, Leaderless: defaultTiming.Leaderless,
				Backoff: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
					400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond},
			},
			Logger: slog.New(slog.DiscardHandler),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err := c.form(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range c.cfgs {
		testsupport.WaitState(t, c.node(i).tracker, c.cfgs[i].ID+": Ready{3}", waitFor,
			func(s otellifecycle.State) bool { return s == otellifecycle.ReadyState(3) })
	}
	return c
}

func details(h []otellifecycle.Transition) []string {
	var out []string
	for _, tr := range h {
		out = append(out, tr.Detail)
	}
	return out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// The demo's cluster forms on real Raft (TCP, BoltDB): n1 bootstraps, n2
// and n3 join through its /cluster/join, and every node ends Ready{3}, which
// its endpoints say too.
func TestDemoClusterIsReadyOnEveryNode(t *testing.T) {
	c := testCluster(t)
	wantHistory := map[string][]string{
		"n1": {"bootstrapping new cluster"},
		"n2": {"joining cluster (attempt 0)"},
		"n3": {"joining cluster (attempt 0)"},
	}
	for i := range c.cfgs {
		n := c.node(i)
		h := details(n.tracker.History())
		if len(h) == 0 || h[0] != wantHistory[n.cfg.ID][0] || h[len(h)-1] != "ready (3 nodes)" {
			t.Errorf("%s: history %q, want %q first and ready (3 nodes) last", n.cfg.ID, h, wantHistory[n.cfg.ID][0])
		}
		base := "http://" + n.httpAddr()
		if code, body := get(t, base+"/readyz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
			t.Errorf("%s /readyz: %d %q", n.cfg.ID, code, body)
		}
		if code, body := get(t, base+"/livez"); code != http.StatusOK {
			t.Errorf("%s /livez: %d %q", n.cfg.ID, code, body)
		}
		if _, body := get(t, base+"/cluster/status"); !strings.Contains(body, `"phase":"ready"`) || !strings.Contains(body, `"nodes":3`) {
			t.Errorf("%s /cluster/status: %s", n.cfg.ID, body)
		}
		testsupport.Poll(t, n.cfg.ID+" /metrics", waitFor, 50*time.Millisecond, func() error {
			_, body := get(t, base+"/metrics")
			// The Raft series carry the tracker's node.id: the Observer
			// inherits it.
			for _, want := range []string{`cluster_lifecycle_state{node_id="` + n.cfg.ID + `"`, `cluster_lifecycle_raft_servers{node_id="` + n.cfg.ID + `"`} {
				if !strings.Contains(body, want) {
					return fmt.Errorf("no %s in the exposition", want)
				}
			}
			if !hasLine(body, `cluster_lifecycle_state{`, `state="ready"`, ` 1`) {
				return errors.New("the state gauge is not 1 for ready")
			}
			return nil
		})
	}
	// A follower does not add voters: it says so, and the joiner asks the
	// next seed.
	for i := range c.cfgs {
		if i == c.leader() {
			continue
		}
		res, err := http.Post("http://"+c.node(i).httpAddr()+"/cluster/join", "application/json",
			strings.NewReader(`{"id":"n9","addr":"127.0.0.1:1"}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("join on follower %s: %s, want 503", c.cfgs[i].ID, res.Status)
		}
	}
}

// hasLine reports whether one line of an exposition has every part.
func hasLine(exposition string, parts ...string) bool {
	for line := range strings.Lines(exposition) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A crashed leader is a non-event for the survivors (a new leader is elected
// well within the leaderless timeout, so they stay Ready and never Fail,
// which the demo's last failover line says), the crashed node itself says
// nothing more, and the leader restarted on its BoltDB state goes
// Restarting → Ready{3} without a new AddVoter: the configuration does not
// change.
func TestKilledLeaderRestartsWithoutFailingTheSurvivors(t *testing.T) {
	c := testCluster(t)
	killed := c.leader()
	if killed < 0 {
		t.Fatal("no leader")
	}
	var survivors []*node
	for i := range c.cfgs {
		if i != killed {
			survivors = append(survivors, c.node(i))
		}
	}
	survivor, old := survivors[0], c.node(killed)
	before := survivor.r.GetConfiguration()
	if err := before.Error(); err != nil {
		t.Fatal(err)
	}
	notReady := watchNotReady(survivors)
	var said []string
	say := func(format string, args ...any) {
		said = append(said, fmt.Sprintf(format, args...))
		t.Logf(format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	began := time.Now()
	got, err := c.failover(ctx, 500*time.Millisecond, say)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if got != killed {
		t.Errorf("killed %s, want the leader %s", c.cfgs[got].ID, c.cfgs[killed].ID)
	}
	if d := notReady(); d != 0 {
		t.Errorf("the survivors were not Ready for %v in all", d)
	}
	if last := said[len(said)-1]; !strings.Contains(last, "stayed Ready throughout") {
		t.Errorf("the demo's last failover line %q does not say the survivors stayed Ready", last)
	}
	t.Logf("the whole failover, a 500ms pause included, took %v", took)
	// A crashed process says nothing more: the demo's kill is no Failed
	// (nor anything else) on the killed node's own lines.
	if h := old.tracker.History(); h[len(h)-1].To != otellifecycle.ReadyState(3) {
		t.Errorf("the killed node's last transitions %q, want none after ready (3 nodes)", details(h))
	}

	for i := range c.cfgs {
		n := c.node(i)
		h := n.tracker.History()
		if i == killed {
			if len(h) < 2 || h[0].To != otellifecycle.RestartingState() || h[1].To != otellifecycle.ReadyState(3) {
				t.Errorf("restarted %s: history %q, want restart, then ready (3 nodes)", n.cfg.ID, details(h))
			}
			continue
		}
		for _, tr := range h {
			if tr.To.Phase == otellifecycle.Failed {
				t.Errorf("survivor %s failed: history %q", n.cfg.ID, details(h))
			}
		}
		if s := n.tracker.Current(); s != otellifecycle.ReadyState(3) {
			t.Errorf("survivor %s ends %v, want ready (3 nodes)", n.cfg.ID, s)
		}
	}
	after := survivor.r.GetConfiguration()
	if err := after.Error(); err != nil {
		t.Fatal(err)
	}
	if after.Index() != before.Index() || len(after.Configuration().Servers) != 3 {
		t.Errorf("configuration changed by the restart: index %d → %d, %v", before.Index(), after.Index(), after.Configuration().Servers)
	}
}

// A demo port already in use stops the demo at once, before anything starts,
// with an error that names the port and the flag that moves it.
func TestDemoPortTakenFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	began := time.Now()
	err = demo(ctx, []string{"-port", strconv.Itoa(port), "-failover", "0"})
	if err == nil {
		t.Fatal("demo started on a taken port")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("demo took %v to fail", took)
	}
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d", port), "-port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// watchNotReady measures how long the nodes are not Ready from now on, from
// their trackers' transitions (so no short Failed is missed between
// samples); the function it returns stops the watch and returns the time
// summed over the nodes.
func watchNotReady(nodes []*node) func() time.Duration {
	var (
		mu    sync.Mutex
		total time.Duration
		wg    sync.WaitGroup
	)
	done := make(chan struct{})
	for _, n := range nodes {
		ch, cancel := n.tracker.Subscribe(64)
		var since time.Time // when n left Ready; zero while Ready
		if !n.tracker.IsReady() {
			since = time.Now()
		}
		wg.Go(func() {
			defer cancel()
			for {
				select {
				case <-done:
					mu.Lock()
					if !since.IsZero() {
						total += time.Since(since)
					}
					mu.Unlock()
					return
				case tr, ok := <-ch:
					if !ok { // the tracker closed: nothing more to see
						ch = nil
						continue
					}
					mu.Lock()
					switch {
					case tr.To.IsReady() && !since.IsZero():
						total += tr.At.Sub(since)
						since = time.Time{}
					case !tr.To.IsReady() && since.IsZero():
						since = tr.At
					}
					mu.Unlock()
				}
			}
		})
	}
	return func() time.Duration {
		close(done)
		wg.Wait()
		return total
	}
}
