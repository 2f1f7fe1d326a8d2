//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

const (
	collectorVersion = "v0.165.0"
	jaegerVersion    = "v1.76.0"
)

// paths of the repository and this example.
func paths(t *testing.T) (repo, example string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	example = filepath.Dir(wd)
	return filepath.Dir(filepath.Dir(example)), example
}

func TestFullStack(t *testing.T) {
	began := time.Now()
	st := newStack(t)
	example, logs, bins, promtool := st.example, st.logs, st.bins, st.promtool

	// The real programs' own checks of the shipped files.
	run(t, example, promtool, "check", "config", "prometheus.yml")
	run(t, example, promtool, "check", "rules", "alerts.yml")
	run(t, example, promtool, "test", "rules", "alerts_test.yml")
	run(t, example, bins["collector"], "validate", "--config=file:collector.yaml")
	run(t, example, bins["collector"], "validate", "--config=file:collector.yaml", "--config=file:collector-remotewrite.yaml")

	ports := freePorts(t, 9)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	var nodes []*raftNode
	for i := range 3 {
		nodes = append(nodes, &raftNode{
			id: "n" + strconv.Itoa(i+1), http: addr(3 * i), raft: addr(1 + 3*i), admin: addr(2 + 3*i),
			data: filepath.Join(logs, "data", "n"+strconv.Itoa(i+1)),
		})
	}
	var nodeHTTP []string
	for _, n := range nodes {
		nodeHTTP = append(nodeHTTP, n.http)
	}
	st.up(t, nodeHTTP)
	prom, p, colGRPC, jaegerHTTP := st.prom, st.p, st.colGRPC, st.jaegerHTTP

	// Three raft-node processes, out of order: the joiners first, the
	// bootstrapper (the lowest seed) three seconds later, so the joiners
	// retry. A node is (re)started with the same flags and data directory.
	seeds := strings.Join(nodeHTTP, ",")
	nodeEnv := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + colGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRIC_EXPORT_INTERVAL=1000",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
		"OTEL_EXPORTER_OTLP_TIMEOUT=60000",
		"OTEL_BSP_EXPORT_TIMEOUT=60000",
		"OTEL_BLRP_EXPORT_TIMEOUT=60000",
	}
	startNode := func(n *raftNode) {
		n.cmd = st.start(t, "node-"+n.id, bins["raft-node"], nodeEnv,
			"-id", n.id, "-listen", n.http, "-raft", n.raft, "-admin", n.admin, "-seeds", seeds,
			"-data", n.data, "-leaderless", leaderless.String())
	}
	bootstrapper := slices.IndexFunc(nodes, func(n *raftNode) bool { return n.http == slices.Min(nodeHTTP) })
	for i, n := range nodes {
		if i != bootstrapper {
			startNode(n)
		}
	}
	time.Sleep(3 * time.Second)
	startNode(nodes[bootstrapper])
	allReady := func(what string) {
		t.Helper()
		for _, n := range nodes {
			testsupport.Poll(t, n.id+" Ready{3}"+what, 90*time.Second, pollEvery, func() error { return nodeIs(n.http, `{"phase":"ready","nodes":3}`) })
		}
		testsupport.Poll(t, "Prometheus sees all three nodes ready"+what, time.Minute, pollEvery, func() error {
			return prom.expect(`cluster_lifecycle_state{job="raft-node",state="ready"} == 1`, 3)
		})
	}
	allReady("")
	for _, n := range nodes {
		if n != nodes[bootstrapper] && !slices.Contains(details(t, n.http), "joining cluster (attempt 1)") {
			t.Errorf("%s joined at its first attempt, though it started before the bootstrapper: %q", n.id, details(t, n.http))
		}
	}

	// A 200 ms failure (the admin endpoint's Fail, then Recover), shorter
	// than one export plus scrape: the node's first. The state gauge most
	// likely never shows it; the alert fires from the phase entries,
	// through the collector and scraped directly.
	blip := nodes[(bootstrapper+2)%3]
	post(t, "http://"+blip.admin+"/admin/fail", "e2e: 200 ms failure")
	time.Sleep(200 * time.Millisecond)
	post(t, "http://"+blip.admin+"/admin/recover", "")
	testsupport.Poll(t, blip.id+" back to Ready{3}", time.Minute, pollEvery, func() error { return nodeIs(blip.http, `{"phase":"ready","nodes":3}`) })
	if d := failedFor(t, blip.http); d >= time.Second {
		t.Fatalf("%s was Failed for %v, not less than one scrape interval", blip.id, d)
	} else {
		t.Logf("%s was Failed for %v", blip.id, d.Round(time.Millisecond))
	}
	testsupport.Poll(t, "the ClusterNodeFailed alert fires for "+blip.id+"'s brief failure", time.Minute, pollEvery, func() error {
		return prom.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance="`+blip.id+`"}`, 1)
	})
	failedRule := ruleQuery(t, example, "ClusterNodeFailed")
	direct := strings.ReplaceAll(failedRule, `job="raft-node"`, `job="raft-nodes"`)
	testsupport.Poll(t, "ClusterNodeFailed's expression holds for "+blip.id+" scraped directly", 30*time.Second, pollEvery, func() error {
		return prom.expect(`(`+direct+`) and on (instance) up{job="raft-nodes",instance="`+blip.http+`"}`, 1)
	})
	if seen, err := prom.query(`max_over_time(cluster_lifecycle_state{job="raft-node",state="failed",instance="` + blip.id + `"}[5m]) == 1`); err == nil {
		t.Logf("the state gauge sampled %s's brief failure: %v (the alert does not depend on it)", blip.id, len(seen) > 0)
	}

	// A failover: the leader's process is killed (SIGKILL, no goodbye).
	// The survivors elect a new leader and never leave Ready{3}; the killed
	// node, restarted on its data directory, is Restarting, then Ready{3},
	// without joining again.
	leader := raftLeader(t, nodes)
	var survivors []*raftNode
	seqs := map[string]float64{}
	for _, n := range nodes {
		if n != leader {
			survivors = append(survivors, n)
			seqs[n.id] = statusSeq(t, n.http)
		}
	}
	killedAt := time.Now()
	p.kill(t, leader.cmd)
	testsupport.Poll(t, "a survivor leads", 30*time.Second, 50*time.Millisecond, func() error {
		if l := raftLeader(t, survivors); l == nil {
			return errors.New("no leader among the survivors")
		}
		return nil
	})
	elected := time.Since(killedAt)
	newLeader := raftLeader(t, survivors)
	testsupport.Poll(t, "Prometheus sees "+leader.id+" down and "+newLeader.id+" leading", time.Minute, pollEvery, func() error {
		if err := prom.expect(`up{job="raft-nodes",instance="`+leader.http+`"} == 0`, 1); err != nil {
			return err
		}
		return prom.expect(`cluster_lifecycle_raft_leader{job="raft-node",instance="`+newLeader.id+`"} == 1`, 1)
	})
	time.Sleep(2 * time.Second) // longer than the Observers' poll: any flap would show by now
	startNode(leader)
	testsupport.Poll(t, leader.id+" Ready{3} after its restart", time.Minute, pollEvery, func() error { return nodeIs(leader.http, `{"phase":"ready","nodes":3}`) })
	restarted := time.Since(killedAt)
	if got, want := details(t, leader.http), []string{"restart", "ready (3 nodes)"}; !slices.Equal(got, want) {
		t.Errorf("%s after its restart: %q, want %q", leader.id, got, want)
	}
	for _, s := range survivors {
		if got := statusSeq(t, s.http); got != seqs[s.id] {
			t.Errorf("%s changed phase during the failover (seq %v → %v): %q", s.id, seqs[s.id], got, details(t, s.http))
		}
	}
	failoverWindow := fmt.Sprintf("[%ds]", int(time.Since(killedAt).Seconds())+1)
	testsupport.Poll(t, "Prometheus: the survivors Ready throughout the failover, "+leader.id+" restarted", time.Minute, pollEvery, func() error {
		for _, s := range survivors {
			if err := prom.expect(`min_over_time(cluster_lifecycle_state{job="raft-node",state="ready",instance="`+s.id+`"}`+failoverWindow+`) == 1`, 1); err != nil {
				return err
			}
		}
		return prom.expect(`cluster_lifecycle_phase_entries_total{job="raft-node",instance="`+leader.id+`",phase="restarting"} >= 1`, 1)
	})
	t.Logf("failover: %s killed; %s led %v later; the survivors' phase never changed; %s Ready again %v after the kill",
		leader.id, newLeader.id, elected.Round(time.Millisecond), leader.id, restarted.Round(time.Millisecond))
	allReady(" after the failover")

	// Quorum lost: two of three processes killed. The survivor has no
	// leader and is Failed once the leaderless timeout passes, with the
	// reason; the alert fires. The two restarted, all are Ready again.
	victim := nodes[(bootstrapper+1)%3]
	var killed []*raftNode
	for _, n := range nodes {
		if n != victim {
			killed = append(killed, n)
			p.kill(t, n.cmd)
		}
	}
	lostAt := time.Now()
	testsupport.Poll(t, victim.id+" Failed without a leader", time.Minute, pollEvery, func() error {
		got, err := nodeStatus(victim.http)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(got), `{"phase":"failed","reason":"no leader for more than `+leaderless.String()) {
			return fmt.Errorf("lifecycle %s", got)
		}
		return nil
	})
	t.Logf("quorum lost: %s Failed %v after the kills (leaderless timeout %v)", victim.id, time.Since(lostAt).Round(time.Millisecond), leaderless)
	testsupport.Poll(t, "Prometheus sees "+victim.id+" failed", time.Minute, pollEvery, func() error {
		return prom.expect(`cluster_lifecycle_state{job="raft-node",state="failed",instance="`+victim.id+`"} == 1`, 1)
	})
	testsupport.Poll(t, "the ClusterNodeFailed alert fires for "+victim.id, time.Minute, pollEvery, func() error {
		return prom.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance="`+victim.id+`"}`, 1)
	})
	for _, n := range killed {
		startNode(n)
	}
	allReady(" after quorum came back")
	vid, bid := victim.id, blip.id

	// The failure stays in the range history, and the alert in ALERTS.
	history, err := prom.queryRange(`cluster_lifecycle_state{job="raft-node",state="failed",instance="`+vid+`"}`, began, time.Now())
	if err != nil || !anyValue(history, 1) {
		t.Fatalf("the failure of %s is not in the range history: %v %v", vid, err, history)
	}
	// The brief failure's alert is still firing too: it stays for the
	// rule's 15 minute window.
	if err := prom.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance=~"`+bid+"|"+vid+`"}`, 2); err != nil {
		t.Fatalf("ALERTS: %v", err)
	}

	// Every expression of the dashboard returns data over the run; every
	// rule expression evaluates.
	for _, q := range dashboardQueries(t, example) {
		res, err := prom.queryRange(q, began, time.Now())
		if err != nil {
			t.Errorf("dashboard query fails: %v\n%s", err, q)
		} else if len(res) == 0 {
			t.Errorf("dashboard query returns no data:\n%s", q)
		}
	}
	for _, q := range ruleQueries(t, example) {
		if _, err := prom.queryRange(q, began, time.Now()); err != nil {
			t.Errorf("rule expression fails: %v\n%s", err, q)
		}
	}

	// Each node's /cluster/status agrees with Prometheus, through the
	// collector and scraped directly.
	for _, n := range nodes {
		phase := nodePhase(t, n.http)
		if err := prom.expect(`cluster_lifecycle_state{job="raft-node",instance="`+n.id+`",state="`+phase+`"} == 1`, 1); err != nil {
			t.Errorf("%s says %s; Prometheus (collector) disagrees: %v", n.id, phase, err)
		}
		testsupport.Poll(t, "the direct scrape of "+n.id, 30*time.Second, pollEvery, func() error {
			return prom.expect(`cluster_lifecycle_state{job="raft-nodes",instance="`+n.http+`",state="`+phase+`"} == 1`, 1)
		})
	}

	checkJaeger(t, "http://"+jaegerHTTP, []string{"n1", "n2", "n3"}, leader.id)
	t.Logf("full stack verified in %v", time.Since(began).Round(time.Second))
}

// buildAll builds (or reuses) the collector and Jaeger, cached by version,
// and builds the raft node fresh. The two heavy builds run side by side.
// The collector's key also holds a hash of its module (collectorHash): a
// changed component list builds a new binary.
func buildAll(t *testing.T, repo, example, logs string) map[string]string {
	t.Helper()
	cache := filepath.Join(repo, ".cache", "bin")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{
		"collector": filepath.Join(cache, "otelcol-lifecycle-"+collectorVersion+"-"+collectorHash(t, example)),
		"jaeger":    filepath.Join(cache, "jaeger-"+jaegerVersion),
		"raft-node": filepath.Join(logs, "raft-node"),
	}
	type build struct{ dir, out, pkg string }
	builds := map[string]build{
		"collector": {filepath.Join(example, "collector"), bins["collector"], "."},
		"jaeger":    {filepath.Join(example, "jaeger"), bins["jaeger"], "github.com/jaegertracing/jaeger/cmd/jaeger"},
		"raft-node": {filepath.Join(repo, "examples", "raft-node"), bins["raft-node"], "."},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(builds))
	for name, b := range builds {
		if _, err := os.Stat(b.out); err == nil && name != "raft-node" {
			t.Logf("reusing %s", b.out)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			tmp := b.out + ".tmp"
			cmd := exec.Command("go", "build", "-o", tmp, b.pkg)
			cmd.Dir = b.dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				err = os.Rename(tmp, b.out)
			}
			if err != nil {
				errs <- fmt.Errorf("building %s: %v\n%s", name, err, out)
				return
			}
			t.Logf("built %s in %v", name, time.Since(start).Round(time.Second))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return bins
}

// collectorHash is the first 12 hex digits of a SHA-256 over the
// collector module's main.go, go.mod and go.sum: what decides which
// components the binary holds, and at which versions.
func collectorHash(t *testing.T, example string) string {
	t.Helper()
	h := sha256.New()
	for _, name := range []string{"main.go", "go.mod", "go.sum"} {
		raw, err := os.ReadFile(filepath.Join(example, "collector", name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(raw))
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// prometheusBinaries finds Prometheus and promtool, installing Debian's
// package when they are missing and this user may.
func prometheusBinaries(t *testing.T) (string, string) {
	t.Helper()
	prom, err1 := exec.LookPath("prometheus")
	tool, err2 := exec.LookPath("promtool")
	if err1 == nil && err2 == nil {
		return prom, tool
	}
	if os.Geteuid() != 0 {
		t.Fatal("Prometheus is not installed: install it first (Debian: sudo apt-get install --no-install-recommends prometheus)")
	}
	t.Log("installing Prometheus from apt")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "prometheus"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if prom, err1 = exec.LookPath("prometheus"); err1 != nil {
		t.Fatal(err1)
	}
	if tool, err2 = exec.LookPath("promtool"); err2 != nil {
		t.Fatal(err2)
	}
	return prom, tool
}

func run(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// loopbackPrometheusConfig is prometheus.yml with only what loopback
// needs changed: targets on 127.0.0.1, the rules file by absolute path,
// and 1s scrape and evaluation. With collector "", the collector pushes
// its metrics (collector-remotewrite.yaml) and job otel-collector is
// dropped.
func loopbackPrometheusConfig(t *testing.T, example, logs, collector string, nodes []string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(example, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	global := cfg["global"].(map[string]any)
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	cfg["rule_files"] = []any{filepath.Join(example, "alerts.yml")}
	targets := map[string][]string{"otel-collector": {collector}, "raft-nodes": nodes}
	var jobs []any
	for _, sc := range cfg["scrape_configs"].([]any) {
		job := sc.(map[string]any)
		tg, ok := targets[job["job_name"].(string)]
		if !ok {
			t.Fatalf("prometheus.yml has a job the test does not know: %v", job["job_name"])
		}
		if job["job_name"] == "otel-collector" && collector == "" {
			continue
		}
		job["static_configs"] = []any{map[string]any{"targets": tg}}
		jobs = append(jobs, job)
	}
	cfg["scrape_configs"] = jobs
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logs, "prometheus.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func dashboardQueries(t *testing.T, example string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(example, "grafana", "dashboards", "cluster-lifecycle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	if len(out) < 5 {
		t.Fatalf("the dashboard has only %d queries", len(out))
	}
	return out
}

// ruleQuery is the expression of the alert named name in alerts.yml.
func ruleQuery(t *testing.T, example, name string) string {
	t.Helper()
	for _, r := range rules(t, example) {
		if r.Alert == name {
			return r.Expr
		}
	}
	t.Fatalf("alerts.yml has no alert %s", name)
	return ""
}

func ruleQueries(t *testing.T, example string) []string {
	t.Helper()
	var out []string
	for _, r := range rules(t, example) {
		out = append(out, r.Expr)
	}
	return out
}

type rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func rules(t *testing.T, example string) []rule {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(example, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range r.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// failedFor is how long node n's last Failed lasted, from the history in
// its /cluster/status.
func failedFor(t *testing.T, n string) time.Duration {
	t.Helper()
	doc, err := status(n)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(doc.History) - 1; i >= 0; i-- {
		if doc.History[i].From.Phase == "failed" {
			return time.Duration(doc.History[i].InPhase * float64(time.Second))
		}
	}
	t.Fatalf("%s has left no Failed in its history", n)
	return 0
}

func nodeStatus(n string) (json.RawMessage, error) {
	doc, err := status(n)
	return doc.Lifecycle, err
}

func nodeIs(n, want string) error {
	got, err := nodeStatus(n)
	if err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("lifecycle %s, want %s", got, want)
	}
	return nil
}

func nodePhase(t *testing.T, n string) string {
	t.Helper()
	raw, err := nodeStatus(n)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Phase string `json:"phase"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s.Phase
}

func post(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %s %s", url, res.Status, b)
	}
}

// promAPI queries Prometheus's HTTP API.
type promAPI struct{ base string }

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

func (p promAPI) get(path string, params url.Values) ([]sample, error) {
	res, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("%s: %s", res.Status, bytes.TrimSpace(raw))
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s", body.Error)
	}
	return body.Data.Result, nil
}

func (p promAPI) query(q string) ([]sample, error) {
	return p.get("/api/v1/query", url.Values{"query": {q}})
}

func (p promAPI) queryRange(q string, from, to time.Time) ([]sample, error) {
	return p.get("/api/v1/query_range", url.Values{
		"query": {q},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix()+1, 10)},
		"step":  {"1"},
	})
}

// expect checks that q returns exactly n series.
func (p promAPI) expect(q string, n int) error {
	res, err := p.query(q)
	if err != nil {
		return err
	}
	if len(res) != n {
		return fmt.Errorf("%s: %d series, want %d: %v", q, len(res), n, res)
	}
	return nil
}

func anyValue(res []sample, want float64) bool {
	for _, s := range res {
		for _, v := range s.Values {
			if str, ok := v[1].(string); ok {
				if f, err := strconv.ParseFloat(str, 64); err == nil && f == want {
					return true
				}
			}
		}
	}
	return false
}

// leaderless is the nodes' -leaderless: how long a node without a Raft
// leader waits before it says Failed.
const leaderless = 3 * time.Second

// raftNode is one raft-node process: its addresses and data directory stay
// the same across restarts.
type raftNode struct {
	id, http, raft, admin, data string
	cmd                         *exec.Cmd // the running process
}

// raftLeader returns the node whose /metrics says it leads, or nil.
func raftLeader(t *testing.T, nodes []*raftNode) *raftNode {
	t.Helper()
	for _, n := range nodes {
		res, err := http.Get("http://" + n.http + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "cluster_lifecycle_raft_leader{") && strings.HasSuffix(line, " 1") {
				return n
			}
		}
	}
	return nil
}

// statusDoc is the part of /cluster/status the test reads.
type statusDoc struct {
	Lifecycle json.RawMessage `json:"lifecycle"`
	Seq       float64         `json:"seq"`
	History   []struct {
		Detail string `json:"detail"`
		From   struct {
			Phase string `json:"phase"`
		} `json:"from"`
		InPhase float64 `json:"in_phase_seconds"`
	} `json:"history"`
}

func status(n string) (statusDoc, error) {
	var doc statusDoc
	res, err := http.Get("http://" + n + "/cluster/status")
	if err != nil {
		return doc, err
	}
	defer res.Body.Close()
	err = json.NewDecoder(res.Body).Decode(&doc)
	return doc, err
}

// statusSeq is the sequence number of node n's last transition.
func statusSeq(t *testing.T, n string) float64 {
	t.Helper()
	doc, err := status(n)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Seq
}

// details are the detail texts of node n's transitions, oldest first, the
// initial state included.
func details(t *testing.T, n string) []string {
	t.Helper()
	doc, err := status(n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range doc.History {
		out = append(out, h.Detail)
	}
	return out
}
