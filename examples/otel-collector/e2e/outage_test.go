//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// The outage drill's timing: transitions every step on every node, the
// collector stopped for collectorDown.
const (
	outageNodes   = 3
	step          = 100 * time.Millisecond
	collectorDown = 20 * time.Second
)

// simNode is a node of the drill: a tracker with providers of its own
// (its own service.instance.id), exporting OTLP to the collector as
// raft-node does, driven by the test, which keeps the ground truth.
type simNode struct {
	id        string
	providers *otelsetup.Providers
	tracker   *otellifecycle.Tracker

	mu    sync.Mutex
	moves []move // every transition the tracker accepted
}

type move struct {
	at      time.Time     // when Set was called
	latency time.Duration // how long Set took
}

// drill is the lifecycle a drill node goes round: joins with a retry,
// Ready, a failure, a restart, Ready again; no state twice in a row.
var drill = []otellifecycle.State{
	otellifecycle.JoiningState(0), otellifecycle.JoiningState(1), otellifecycle.ReadyState(outageNodes),
	otellifecycle.FailedState("e2e: outage drill"), otellifecycle.RestartingState(), otellifecycle.ReadyState(outageNodes),
}

// Collectors restart and Prometheus restarts. While nodes keep changing
// phase, the collector is stopped for 20 s and started again, then
// Prometheus is restarted on its storage:
//   - no transition waits for the collector: the p99 of Set's latency
//     during the outage is measured against the minutes before it;
//   - every transition event of the outage reaches Jaeger, and every log
//     record reaches the collector, once it is back (the SDK's exporters
//     retry for up to a minute, and its queues hold 2,048 items);
//   - the counters in Prometheus continue across the collector's restart:
//     resets() finds none, and the last values of every node's phase
//     entries add up to the number of transitions it made;
//   - Prometheus keeps the run's range history across its restart.
//
// Each stage is a subtest; a failed stage ends the test.
//
// The collector is stopped with SIGTERM, as an orchestrator does: it then
// exports what its batch processor holds before it exits. A collector
// that crashes (SIGKILL) loses what it had accepted and not yet exported,
// up to its batch processor's timeout (1 s in collector.yaml).
func TestOutages(t *testing.T) {
	began := time.Now()
	st := newStack(t)
	stage := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	stage("the backends start", func(t *testing.T) { st.up(t, nil) })

	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + st.colGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_METRIC_EXPORT_INTERVAL": "1000",
		"OTEL_BSP_SCHEDULE_DELAY":     "200",
		"OTEL_BLRP_SCHEDULE_DELAY":    "200",
		// Ride out a collector outage of up to a minute: the OTLP
		// exporters give up on a batch after OTEL_EXPORTER_OTLP_TIMEOUT
		// (10 s by default, retries included) and the batch processors
		// after their export timeouts (30 s): with those defaults, a
		// 20 s outage drops the batches that were waiting.
		"OTEL_EXPORTER_OTLP_TIMEOUT": "60000",
		"OTEL_BSP_EXPORT_TIMEOUT":    "60000",
		"OTEL_BLRP_EXPORT_TIMEOUT":   "60000",
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	var nodes []*simNode
	for i := range outageNodes {
		n := &simNode{id: "o" + strconv.Itoa(i+1)}
		var err error
		if n.providers, err = otelsetup.Setup(ctx, otelsetup.WithServiceName("outage-node"), otelsetup.WithInstanceID(n.id)); err != nil {
			t.Fatal(err)
		}
		if n.tracker, err = otellifecycle.New(n.providers.TrackerOptions()...); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	closed := false
	closeNodes := func() {
		if closed {
			return
		}
		closed = true
		for _, n := range nodes {
			if err := n.tracker.Close(); err != nil {
				t.Errorf("%s: tracker.Close: %v", n.id, err)
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := n.providers.Shutdown(sctx); err != nil {
				t.Errorf("%s: providers.Shutdown: %v", n.id, err)
			}
			cancel()
		}
	}
	t.Cleanup(closeNodes)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The drill stops once, when its stage ends or, if that stage
	// failed, before the nodes close.
	stopDrill := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopDrill)
	for _, n := range nodes {
		wg.Go(func() {
			tick := time.NewTicker(step)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				at := time.Now()
				err := n.tracker.Set(ctx, drill[i%len(drill)])
				lat := time.Since(at)
				if err != nil {
					t.Errorf("%s: Set: %v", n.id, err)
					return
				}
				n.mu.Lock()
				n.moves = append(n.moves, move{at: at, latency: lat})
				n.mu.Unlock()
			}
		})
	}

	var down, up time.Time
	stage("nodes change phase through a 20 s collector outage", func(t *testing.T) {
		time.Sleep(10 * time.Second) // the baseline
		down = time.Now()
		stop1(t, st.collector, "the collector")
		time.Sleep(collectorDown)
		up = time.Now()
		st.startCollector(t)
		time.Sleep(10 * time.Second) // transitions go on; the exporters retry
		stopDrill()
		closeNodes() // flush what is left, as a node's shutdown does
	})

	// What each node did, before and during the outage.
	var before, during []time.Duration
	transitions := map[string]int{}
	inOutage := map[string]int{}
	for _, n := range nodes {
		transitions[n.id] = len(n.moves)
		for _, m := range n.moves {
			switch {
			case m.at.Before(down):
				before = append(before, m.latency)
			case m.at.Before(up):
				during = append(during, m.latency)
				inOutage[n.id]++
			}
		}
	}
	stage("the outage slows no transition", func(t *testing.T) {
		pb, pd := percentiles(before), percentiles(during)
		t.Logf("Set latency before the outage (%d transitions): p50 %v p99 %v max %v", len(before), pb[0], pb[1], pb[2])
		t.Logf("Set latency during the outage (%d transitions): p50 %v p99 %v max %v", len(during), pd[0], pd[1], pd[2])
		if pd[1] > 10*time.Millisecond {
			t.Errorf("p99 of a transition during the collector's outage: %v", pd[1])
		}
	})

	stage("Jaeger holds every transition event of the outage", func(t *testing.T) {
		// Every transition event of the outage is in Jaeger.
		testsupport.Poll(t, "Jaeger holds every transition event of the outage", 2*time.Minute, time.Second, func() error {
			got, err := jaegerTransitionEvents(st.jaegerHTTP, "outage-node", down, up)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if got[n.id] != inOutage[n.id] {
					return fmt.Errorf("%s: %d transition events in Jaeger from the outage, made %d", n.id, got[n.id], inOutage[n.id])
				}
			}
			return nil
		})
		t.Logf("Jaeger holds all %v transition events made during the outage", inOutage)
	})

	stage("the collector received every log record", func(t *testing.T) {
		// Every log record reached the collector: its debug exporter counts
		// them, in the log of each of its two runs.
		wantRecords := 0
		for _, n := range nodes {
			wantRecords += transitions[n.id] // one OpenTelemetry log record per transition (slog also has the initial state)
		}
		testsupport.Poll(t, "the collector received every log record", time.Minute, time.Second, func() error {
			got, err := collectorLogRecords(st.logs)
			if err != nil {
				return err
			}
			if got < wantRecords {
				return fmt.Errorf("%d log records in the collector's logs, the nodes wrote %d", got, wantRecords)
			}
			if got > wantRecords {
				t.Logf("%d log records for %d written: %d sent twice (an export retried after the collector had it)", got, wantRecords, got-wantRecords)
			}
			return nil
		})
		t.Logf("the collector's two runs received all %d log records the nodes wrote", wantRecords)
	})

	stage("the counters go on across the collector's restart", func(t *testing.T) {
		// The counters go on across the collector's restart: no reset, and the
		// phase entries (every phase from 0) add up to the transitions.
		window := fmt.Sprintf("[%ds]", int(time.Since(began).Seconds())+1)
		testsupport.Poll(t, "Prometheus: every node's transition count, no reset", time.Minute, time.Second, func() error {
			res, err := st.prom.query(`sum by (instance) (cluster_lifecycle_phase_entries_total{job="outage-node"})`)
			if err != nil {
				return err
			}
			if len(res) != len(nodes) {
				return fmt.Errorf("%d instances: %v", len(res), res)
			}
			for _, r := range res {
				v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
				if int(v) != transitions[r.Metric["instance"]] {
					return fmt.Errorf("%s: %v phase entries, made %d transitions", r.Metric["instance"], v, transitions[r.Metric["instance"]])
				}
			}
			return st.prom.expect(`resets(cluster_lifecycle_phase_entries_total{job="outage-node"}`+window+`) > 0`, 0)
		})
	})

	stage("Prometheus restarted on its storage keeps the history", func(t *testing.T) {
		// Prometheus restarts on its storage and keeps the range history.
		beforeRestart := time.Now()
		q := `cluster_lifecycle_state{job="outage-node",state="ready"}`
		was, err := st.prom.queryRange(q, began, beforeRestart)
		if err != nil {
			t.Fatal(err)
		}
		stop1(t, st.prometheus, "Prometheus")
		st.startPrometheus(t)
		is, err := st.prom.queryRange(q, began, beforeRestart)
		if err != nil {
			t.Fatal(err)
		}
		if n, m := points(was), points(is); n == 0 || n != m {
			t.Fatalf("range history of the run: %d points before Prometheus restarted, %d after", n, m)
		} else {
			t.Logf("Prometheus restarted with all %d points of the run's history", m)
		}
	})
}

// stop1 stops one program with SIGTERM, as an orchestrator does, and
// waits until it has exited.
func stop1(t *testing.T, cmd *exec.Cmd, what string) {
	t.Helper()
	began := time.Now()
	stop(cmd, 30*time.Second)
	if alive(cmd.Process.Pid) {
		t.Fatalf("%s outlived SIGTERM and SIGKILL", what)
	}
	t.Logf("stopped %s in %v", what, time.Since(began).Round(time.Millisecond))
}

func percentiles(d []time.Duration) [3]time.Duration {
	if len(d) == 0 {
		return [3]time.Duration{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return [3]time.Duration{s[len(s)/2], s[(len(s)*99)/100], s[len(s)-1]}
}

func points(res []sample) int {
	n := 0
	for _, s := range res {
		n += len(s.Values)
	}
	return n
}

// jaegerTransitionEvents counts, per service.instance.id, the
// cluster.lifecycle.transition events of service whose time is in
// [from, to).
func jaegerTransitionEvents(base, service string, from, to time.Time) (map[string]int, error) {
	traces, err := jaegerSearch("http://"+base, url.Values{
		"service": {service}, "limit": {"100000"},
		"start": {strconv.FormatInt(from.Add(-time.Minute).UnixMicro(), 10)},
		"end":   {strconv.FormatInt(to.Add(time.Minute).UnixMicro(), 10)},
	})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	seen := map[string]bool{} // a span appears in one trace only, but be sure
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if seen[s.SpanID] {
				continue
			}
			seen[s.SpanID] = true
			for _, l := range s.Logs {
				at := time.UnixMicro(l.Timestamp)
				if at.Before(from) || !at.Before(to) {
					continue
				}
				for _, f := range l.Fields {
					if f.Key == "event" && f.Value == "cluster.lifecycle.transition" {
						out[tr.instance(s.ProcessID)]++
					}
				}
			}
		}
	}
	return out, nil
}

var logRecords = regexp.MustCompile(`"log records": (\d+)`)

// collectorLogRecords sums the log records the collector's debug exporter
// reported, over every run of the collector.
func collectorLogRecords(logs string) (int, error) {
	files, err := filepath.Glob(filepath.Join(logs, "otelcol*.log"))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no collector logs in %s: %v", logs, err)
	}
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		for _, m := range logRecords.FindAllSubmatch(b, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			total += n
		}
	}
	return total, nil
}
