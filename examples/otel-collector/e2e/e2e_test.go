//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/mixin"
)

// bootstrapDelay is how long the joiners wait for the bootstrapper: long
// enough that they are still Joining (at attempt 6, 15.75 s in, with the
// default backoff) across an export and a scrape (5 s, 15 s), so that
// every pipeline has the join panels' series.
const bootstrapDelay = 12 * time.Second

// Targets of a dead node's detection, with the example's shipped
// intervals (nodes export every 5 s, Prometheus scrapes and evaluates
// every 15 s, Alertmanager waits 10 s): no longer Ready on the dashboard
// within 30 s of its death, named by an alert that reaches the webhook
// within 90 s.
const (
	deadNotReadyWithin = 30 * time.Second
	deadAlertedWithin  = 90 * time.Second
)

// TestFullStack runs three raft-node processes (a real hashicorp/raft
// cluster) through the shipped collector, Jaeger, Alertmanager and three
// Prometheus 3 servers, one per way in: each node's /metrics scraped
// (prometheus-direct.yml), the collector's Prometheus exporter scraped
// (prometheus.yml), and OTLP from the collector into Prometheus's own
// receiver (prometheus-otlp.yml). All run the rendered alerts.yml at the
// shipped intervals. Each stage is a subtest; a failed stage ends the test.
func TestFullStack(t *testing.T) {
	began := time.Now()
	st := newStack(t)
	st.shipped = true
	example, logs, bins := st.example, st.logs, st.bins
	stage := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	stage("the shipped files pass the programs' own checks", func(t *testing.T) {
		for _, f := range []string{"prometheus.yml", "prometheus-direct.yml", "prometheus-otlp.yml"} {
			run(t, example, st.promtool, "check", "config", f)
		}
		run(t, example, st.promtool, "check", "rules", "alerts.yml")
		run(t, example, filepath.Join(filepath.Dir(st.amBin), "amtool"), "check-config", "alertmanager.yml")
		for _, overlay := range []string{"", "collector-remotewrite.yaml", "collector-otlp.yaml"} {
			args := []string{"validate", "--config=file:collector.yaml"}
			if overlay != "" {
				args = append(args, "--config=file:"+overlay)
			}
			run(t, example, bins["collector"], args...)
		}
	})

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
	st.webhook = newWebhook(t) // Alertmanager's receiver, for the whole test
	stage("the backends start", func(t *testing.T) { st.up(t, nodeHTTP) })
	pipelines := st.pipelines
	collector := st.pipeline("collector")
	// instance is how a pipeline names a node: by its address when
	// scraped, by its service.instance.id when it comes through OTLP.
	instance := func(pl *pipeline, n *raftNode) string {
		if pl.name == "direct" {
			return n.http
		}
		return n.id
	}
	// onEvery polls cond on every pipeline, side by side.
	onEvery := func(t *testing.T, what string, timeout time.Duration, cond func(pl *pipeline) error) {
		t.Helper()
		var wg sync.WaitGroup
		for _, pl := range pipelines {
			wg.Go(func() {
				testsupport.Poll(t, pl.name+": "+what, timeout, pollEvery, func() error { return cond(pl) })
			})
		}
		wg.Wait()
	}

	// Three raft-node processes, out of order: the joiners first, the
	// bootstrapper (the lowest seed) bootstrapDelay later, so the joiners
	// retry. A node is (re)started with the same flags and data directory.
	seeds := strings.Join(nodeHTTP, ",")
	nodeEnv := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + st.colGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRIC_EXPORT_INTERVAL=5000", // as docker-compose.yaml
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
		"OTEL_EXPORTER_OTLP_TIMEOUT=60000",
		"OTEL_BSP_EXPORT_TIMEOUT=60000",
		"OTEL_BLRP_EXPORT_TIMEOUT=60000",
	}
	startNode := func(t *testing.T, n *raftNode) {
		n.cmd = st.start(t, "node-"+n.id, bins["raft-node"], nodeEnv,
			"-id", n.id, "-listen", n.http, "-raft", n.raft, "-admin", n.admin, "-seeds", seeds,
			"-data", n.data, "-leaderless", leaderless.String())
	}
	bootstrapper := slices.IndexFunc(nodes, func(n *raftNode) bool { return n.http == slices.Min(nodeHTTP) })
	allReady := func(t *testing.T) {
		t.Helper()
		for _, n := range nodes {
			testsupport.Poll(t, n.id+" Ready{3}", 90*time.Second, pollEvery, func() error { return nodeIs(n.http, `{"phase":"ready","nodes":3}`) })
		}
		onEvery(t, "all three nodes ready", 2*time.Minute, func(pl *pipeline) error {
			return pl.api.expect(`cluster_lifecycle_state{job="raft-node",state="ready"} == 1`, 3)
		})
	}

	stage("the nodes form the cluster", func(t *testing.T) {
		for i, n := range nodes {
			if i != bootstrapper {
				startNode(t, n)
			}
		}
		time.Sleep(bootstrapDelay)
		startNode(t, nodes[bootstrapper])
		allReady(t)
		for _, n := range nodes {
			if n != nodes[bootstrapper] && !slices.Contains(details(t, n.http), "joining cluster (attempt 1)") {
				t.Errorf("%s joined at its first attempt, though it started before the bootstrapper: %q", n.id, details(t, n.http))
			}
		}
	})

	// The jobs the example's pipelines give the nodes' series (the direct
	// scrape job's name; service.name through the collector and OTLP) are
	// the jobs the rendered rules select: a wrong selector is valid
	// PromQL, and would never fire.
	stage("every pipeline's job is one the rules select", func(t *testing.T) {
		selector, err := mixin.Selector(st.repo, "examples/otel-collector/mixin.jsonnet")
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range pipelines {
			all, err := pl.api.query(`count by (job) (cluster_lifecycle_state)`)
			if err != nil || len(all) == 0 {
				t.Fatalf("%s: no lifecycle series: %v", pl.name, err)
			}
			if err := pl.api.expect(`count by (job) (cluster_lifecycle_state) unless count by (job) (cluster_lifecycle_state{`+selector+`})`, 0); err != nil {
				t.Errorf("%s: jobs the rules (%s) do not select: %v", pl.name, selector, err)
			}
		}
	})

	// A 200 ms failure (the admin endpoint's Fail, then Recover), shorter
	// than one export plus scrape: the node's first. The state gauge most
	// likely never shows it; the alert fires from the phase entries, on
	// every pipeline.
	blip := nodes[(bootstrapper+2)%3]
	stage("a brief failure fires ClusterNodeFailed on every pipeline", func(t *testing.T) {
		post(t, "http://"+blip.admin+"/admin/fail", "e2e: 200 ms failure")
		time.Sleep(200 * time.Millisecond)
		post(t, "http://"+blip.admin+"/admin/recover", "")
		testsupport.Poll(t, blip.id+" back to Ready{3}", time.Minute, pollEvery, func() error { return nodeIs(blip.http, `{"phase":"ready","nodes":3}`) })
		if d := failedFor(t, blip.http); d >= time.Second {
			t.Fatalf("%s was Failed for %v, not less than one scrape interval", blip.id, d)
		} else {
			t.Logf("%s was Failed for %v", blip.id, d.Round(time.Millisecond))
		}
		onEvery(t, "ClusterNodeFailed fires for "+blip.id+"'s brief failure", 2*time.Minute, func(pl *pipeline) error {
			return pl.api.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance="`+instance(pl, blip)+`"}`, 1)
		})
		if seen, err := collector.api.query(`max_over_time(cluster_lifecycle_state{job="raft-node",state="failed",instance="` + blip.id + `"}[5m]) == 1`); err == nil {
			t.Logf("the state gauge sampled %s's brief failure: %v (the alert does not depend on it)", blip.id, len(seen) > 0)
		}
	})

	// A failover: the leader's process is killed (SIGKILL, no goodbye).
	// The survivors elect a new leader and never leave Ready{3}; the killed
	// node, restarted on its data directory, is Restarting, then Ready{3},
	// without joining again.
	var restartedLeader *raftNode
	stage("a leader failover leaves the survivors Ready", func(t *testing.T) {
		leader := raftLeader(t, nodes)
		restartedLeader = leader
		var survivors []*raftNode
		seqs := map[string]float64{}
		for _, n := range nodes {
			if n != leader {
				survivors = append(survivors, n)
				seqs[n.id] = statusSeq(t, n.http)
			}
		}
		killedAt := time.Now()
		st.p.kill(t, leader.cmd)
		testsupport.Poll(t, "a survivor leads", 30*time.Second, 50*time.Millisecond, func() error {
			if l := raftLeader(t, survivors); l == nil {
				return errors.New("no leader among the survivors")
			}
			return nil
		})
		elected := time.Since(killedAt)
		newLeader := raftLeader(t, survivors)
		testsupport.Poll(t, "Prometheus sees "+leader.id+" down and "+newLeader.id+" leading", time.Minute, pollEvery, func() error {
			if err := st.pipeline("direct").api.expect(`up{job="raft-node",instance="`+leader.http+`"} == 0`, 1); err != nil {
				return err
			}
			return collector.api.expect(`cluster_lifecycle_raft_leader{job="raft-node",instance="`+newLeader.id+`"} == 1`, 1)
		})
		time.Sleep(2 * time.Second) // longer than the Observers' poll: any flap would show by now
		startNode(t, leader)
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
		onEvery(t, "the survivors Ready throughout the failover, "+leader.id+" restarted", 2*time.Minute, func(pl *pipeline) error {
			for _, s := range survivors {
				if err := pl.api.expect(`min_over_time(cluster_lifecycle_state{job="raft-node",state="ready",instance="`+instance(pl, s)+`"}`+failoverWindow+`) == 1`, 1); err != nil {
					return err
				}
			}
			return pl.api.expect(`cluster_lifecycle_phase_entries_total{job="raft-node",instance="`+instance(pl, leader)+`",state="restarting"} >= 1`, 1)
		})
		t.Logf("failover: %s killed; %s led %v later; the survivors' phase never changed; %s Ready again %v after the kill",
			leader.id, newLeader.id, elected.Round(time.Millisecond), leader.id, restarted.Round(time.Millisecond))
		allReady(t)
	})

	// Quorum lost: two of three processes killed. The survivor has no
	// leader and is Failed once the leaderless timeout passes, with the
	// reason; the alert fires. The two restarted, all are Ready again.
	victim := nodes[(bootstrapper+1)%3]
	stage("a lost quorum fails the survivor and fires ClusterNodeFailed", func(t *testing.T) {
		var killed []*raftNode
		for _, n := range nodes {
			if n != victim {
				killed = append(killed, n)
				st.p.kill(t, n.cmd)
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
		onEvery(t, "ClusterNodeFailed fires for "+victim.id, 2*time.Minute, func(pl *pipeline) error {
			if err := pl.api.expect(`cluster_lifecycle_state{job="raft-node",state="failed",instance="`+instance(pl, victim)+`"} == 1`, 1); err != nil {
				return err
			}
			return pl.api.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance="`+instance(pl, victim)+`"}`, 1)
		})
		for _, n := range killed {
			startNode(t, n)
		}
		allReady(t)
	})

	// A dead node: a follower killed (SIGKILL) and left dead. On each
	// pipeline, the time until the dashboard's "Nodes per phase" counts it
	// Ready no more, until ClusterNodeDown names it in Prometheus, and
	// until Alertmanager delivers that to the webhook.
	var dead *raftNode
	deadAlert := map[string]string{}
	stage("a dead node is not Ready within 30 s and alerted within 90 s on every pipeline", func(t *testing.T) {
		leader := raftLeader(t, nodes)
		dead = nodes[slices.IndexFunc(nodes, func(n *raftNode) bool { return n != leader && n != victim })]
		perPhase := panelExpr(t, dashboardQueries(t, example, time.Since(began)), "Nodes per phase")
		killedAt := time.Now()
		st.p.kill(t, dead.cmd)
		type figure struct{ notReady, alerted, delivered time.Duration }
		var mu sync.Mutex
		figures := map[string]figure{}
		onEvery(t, dead.id+" counted Ready no more, ClusterNodeDown fired and delivered", 3*time.Minute, func(pl *pipeline) error {
			mu.Lock()
			f := figures[pl.name]
			mu.Unlock()
			defer func() { mu.Lock(); figures[pl.name] = f; mu.Unlock() }()
			if f.notReady == 0 {
				res, err := pl.api.query(perPhase)
				if err != nil {
					return err
				}
				for _, r := range res {
					if r.Metric["state"] == "ready" && r.value() == 2 {
						f.notReady = time.Since(killedAt)
					}
				}
			}
			if f.alerted == 0 {
				if pl.api.expect(`ALERTS{alertname="ClusterNodeDown",alertstate="firing",instance="`+instance(pl, dead)+`"}`, 1) == nil {
					f.alerted = time.Since(killedAt)
				}
			}
			if f.delivered == 0 {
				if a, ok := st.webhook.first(map[string]string{"alertname": "ClusterNodeDown", "pipeline": pl.name, "instance": instance(pl, dead)}); ok {
					f.delivered = a.at.Sub(killedAt)
				}
			}
			if f.notReady == 0 || f.alerted == 0 || f.delivered == 0 {
				return fmt.Errorf("after %v: not Ready after %v, alerted after %v, delivered after %v", time.Since(killedAt).Round(time.Second), f.notReady, f.alerted, f.delivered)
			}
			return nil
		})
		for _, pl := range pipelines {
			f := figures[pl.name]
			t.Logf("dead node, %s: not Ready on the dashboard %v after SIGKILL, ClusterNodeDown firing after %v, delivered to the webhook after %v",
				pl.name, f.notReady.Round(100*time.Millisecond), f.alerted.Round(100*time.Millisecond), f.delivered.Round(100*time.Millisecond))
			if f.notReady > deadNotReadyWithin {
				t.Errorf("%s: a dead node counted as Ready for %v, more than %v", pl.name, f.notReady, deadNotReadyWithin)
			}
			if f.delivered > deadAlertedWithin {
				t.Errorf("%s: a dead node's alert reached the webhook after %v, more than %v", pl.name, f.delivered, deadAlertedWithin)
			}
			deadAlert[pl.name] = instance(pl, dead)
		}
		startNode(t, dead)
		allReady(t)
	})

	// Alertmanager delivered both alerts of every pipeline to the webhook,
	// each with its labels and annotations.
	stage("the alerts reach the webhook with their labels and annotations", func(t *testing.T) {
		for _, pl := range pipelines {
			for _, want := range []struct {
				alert, instance, summary string
			}{
				{"ClusterNodeFailed", instance(pl, blip), "Node " + instance(pl, blip) + " is Failed or failed in the last 15m"},
				{"ClusterNodeDown", deadAlert[pl.name], "Node " + deadAlert[pl.name] + " stopped reporting its lifecycle"},
			} {
				labels := map[string]string{"alertname": want.alert, "pipeline": pl.name, "instance": want.instance, "job": "raft-node", "severity": "critical"}
				testsupport.Poll(t, pl.name+": "+want.alert+" for "+want.instance+" delivered", time.Minute, pollEvery, func() error {
					a, ok := st.webhook.first(labels)
					if !ok {
						return fmt.Errorf("no firing alert with labels %v among the deliveries", labels)
					}
					if a.Annotations["summary"] != want.summary || a.Annotations["description"] == "" {
						return fmt.Errorf("annotations %v, want summary %q and a description", a.Annotations, want.summary)
					}
					return nil
				})
			}
		}
	})

	stage("history, alerts and every dashboard query on every pipeline", func(t *testing.T) {
		for _, pl := range pipelines {
			// The failure stays in the range history, and the alerts in ALERTS.
			history, err := pl.api.queryRange(`cluster_lifecycle_state{job="raft-node",state="failed",instance="`+instance(pl, victim)+`"}`, began, time.Now())
			if err != nil || !anyValue(history, 1) {
				t.Errorf("%s: the failure of %s is not in the range history: %v %v", pl.name, victim.id, err, history)
			}
			// The brief failure's alert is still firing too: it stays for
			// the rule's 15 minute window.
			if err := pl.api.expect(`ALERTS{alertname="ClusterNodeFailed",alertstate="firing",instance=~"`+instance(pl, blip)+"|"+instance(pl, victim)+`"}`, 2); err != nil {
				t.Errorf("%s: ALERTS: %v", pl.name, err)
			}
			// Every query of the dashboard returns data over the run.
			for _, q := range dashboardQueries(t, example, time.Since(began)) {
				res, err := pl.api.queryRange(q.expr, began, time.Now())
				if err != nil {
					t.Errorf("%s: dashboard panel %q: the query fails: %v\n%s", pl.name, q.panel, err, q.expr)
				} else if len(res) == 0 {
					t.Errorf("%s: dashboard panel %q: the query returns no data:\n%s", pl.name, q.panel, q.expr)
				}
			}
		}
	})

	stage("each node's status agrees with every pipeline", func(t *testing.T) {
		for _, n := range nodes {
			phase := nodePhase(t, n.http)
			onEvery(t, n.id+" "+phase, time.Minute, func(pl *pipeline) error {
				return pl.api.expect(`cluster_lifecycle_state{job="raft-node",instance="`+instance(pl, n)+`",state="`+phase+`"} == 1`, 1)
			})
		}
	})

	stage("Jaeger has every node's episodes, phases and events", func(t *testing.T) {
		checkJaeger(t, "http://"+st.jaegerHTTP, []string{"n1", "n2", "n3"}, restartedLeader.id)
	})
	t.Logf("full stack verified in %v", time.Since(began).Round(time.Second))
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
