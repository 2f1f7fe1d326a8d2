//go:build e2e && fleet

package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
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

// The fleet's knobs: `make fleet FLEET_NODES=1000` sets -fleet.nodes; the
// others are for `go test -tags 'e2e fleet' -run '^TestFleet$' -args …`.
var (
	fleetNodes    = flag.Int("fleet.nodes", 100, "how many simulated nodes")
	fleetProcs    = flag.Int("fleet.procs", 4, "child processes the nodes are spread over")
	fleetInterval = flag.Duration("fleet.interval", 2*time.Second, "the nodes' metric export interval (OTEL_METRIC_EXPORT_INTERVAL)")
	fleetPath     = flag.String("fleet.path", fleetScrapePath, "how metrics reach Prometheus: "+fleetScrapePath+" (Prometheus scrapes the collector's prometheus exporter; collector.yaml) or "+fleetPushPath+" (the collector pushes each export with its prometheus_remote_write exporter to Prometheus's remote-write receiver; collector.yaml with collector-remotewrite.yaml)")
	fleetScrape   = flag.Duration("fleet.scrape", time.Second, "Prometheus's scrape interval (-fleet.path="+fleetScrapePath+" only)")
	fleetWindow   = flag.Duration("fleet.window", 0, "the freshness window exactness allows (0: export interval + 2 × scrape interval + 1 s when scraped, export interval + 1 s when pushed)")
	fleetWarmup   = flag.Duration("fleet.warmup", 30*time.Second, "from the children's start to the steady-state window")
	fleetSteady   = flag.Duration("fleet.steady", 3*time.Minute, "the steady-state window, over which everything is measured")
	fleetSeed     = flag.Uint64("fleet.seed", 1, "seed of the simulated lifecycles and of the samples")
	fleetCluster  = flag.Int("fleet.cluster", 5, "the n of each node's Ready{n}")
	fleetHeap     = flag.Bool("fleet.heapprofile", false, "each child writes a heap profile as it stops, to examples/otel-collector/.e2e-logs/fleet-N<nodes>-child<i>.heap")
	fleetOut      = flag.String("fleet.out", "", "where the figures go, as Markdown (default examples/otel-collector/.e2e-logs/fleet-N<nodes>.md)")
)

// The values of -fleet.path.
const (
	fleetScrapePath = "scrape"
	fleetPushPath   = "remotewrite"
)

// How the fleet is watched.
const (
	fleetPromSamples   = 200                    // phase changes whose freshness in Prometheus is measured
	fleetJaegerSamples = 50                     // transitions whose freshness in Jaeger is measured
	fleetPollSample    = 200 * time.Millisecond // how often a sampled transition is looked for
	fleetSampleGiveUp  = 2 * time.Minute        // a sampled transition not seen by then is lost
	fleetCheckEvery    = 5 * time.Second        // exactness checks
)

// TestFleet runs a fleet: -fleet.nodes simulated nodes (service.name
// fleet-node, each its own service.instance.id and its own providers,
// exporting OTLP/gRPC as raft-node does) spread over -fleet.procs child
// processes (this test binary again, running TestFleetNodes), through one
// real collector, Prometheus and Jaeger on loopback; the collector's
// metrics reach Prometheus by scrape or by remote write (-fleet.path).
// Each node goes through a seeded, realistic lifecycle (see simulate) and
// its child reports every transition with its time, the ground truth.
//
// Over a steady-state window it measures:
//   - freshness: from a transition to the first Prometheus query that
//     shows it (200 phase changes sampled at random, each polled every
//     200 ms), and to its span event in Jaeger (50 sampled transitions);
//   - exactness: every 5 s, count by (state) of the state gauge against
//     the ground truth, a node whose phase changed within the freshness
//     window being allowed in either phase;
//   - cost: the collector's CPU and RSS (/proc), Prometheus's series, and
//     the bytes the nodes export (a counting proxy per signal in front of
//     the collector's OTLP/gRPC port).
//
// It asserts only what must hold: every node seen, every check exact up
// to the window, every sampled transition delivered, no child died. The
// figures go to the log and, as Markdown for BENCHMARKS.md, to -fleet.out.
func TestFleet(t *testing.T) {
	n, nprocs := *fleetNodes, min(*fleetProcs, *fleetNodes)
	if n < 1 || nprocs < 1 {
		t.Fatalf("-fleet.nodes %d, -fleet.procs %d: both must be at least 1", n, nprocs)
	}
	interval, scrape, steady := *fleetInterval, *fleetScrape, *fleetSteady
	var push bool
	switch *fleetPath {
	case fleetScrapePath:
	case fleetPushPath:
		push = true
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "fleet.scrape" {
				t.Fatalf("-fleet.scrape=%v: nothing is scraped with -fleet.path=%s", scrape, fleetPushPath)
			}
		})
		scrape = 0
	default:
		t.Fatalf("-fleet.path=%q: want %s or %s", *fleetPath, fleetScrapePath, fleetPushPath)
	}
	window := *fleetWindow
	switch {
	case window != 0:
	case push:
		// A transition waits up to one export interval to be exported;
		// the collector pushes the export as it arrives, and Prometheus
		// commits it as it is received. One second more for the
		// export, the collector's queue and the commit.
		window = interval + time.Second
	default:
		// A transition waits up to one export interval to be exported,
		// then up to one scrape interval for the next scrape, whose
		// samples can be queried only once it ends: up to its timeout
		// later, which Prometheus sets to the scrape interval (≤ 10 s).
		// One second more for the export and the collector's work.
		window = interval + scrape + min(scrape, 10*time.Second) + time.Second
	}
	fig := &fleetFigures{
		nodes: n, procs: nprocs, interval: interval, scrape: scrape, push: push, window: window, steady: steady,
		warmup: *fleetWarmup, seed: *fleetSeed, machine: machine(), loadBefore: loadavg(), started: time.Now(),
	}
	flag.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "fleet.") && f.Name != "fleet.nodes" && f.Name != "fleet.out" {
			fig.args = append(fig.args, "-"+f.Name+"="+f.Value.String())
		}
	})
	soft, hard, err := raiseNoFile()
	if err != nil {
		t.Fatalf("RLIMIT_NOFILE: %v", err)
	}
	fig.nofile = fmt.Sprintf("%d (hard %d)", soft, hard)
	t.Logf("fleet: %d nodes in %d processes; metric export every %v, %s, freshness window %v; load before %s; open files limit %s",
		n, nprocs, interval, fig.howToPrometheus(), window, fig.loadBefore, fig.nofile)

	st := newStack(t)
	st.push = push
	st.up(t, nil)
	if !push && scrape != time.Second {
		setScrapeInterval(t, st, scrape)
	}
	colLog := filepath.Join(st.logs, "otelcol.log")
	colBase, err := readProc(st.collector.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	fig.colRSSBase = colBase.rss

	// A counting proxy per signal in front of the collector's OTLP/gRPC
	// port, so each signal's bytes are counted apart.
	proxies := map[string]*countingProxy{}
	for _, signal := range []string{"metrics", "traces", "logs"} {
		p, err := startProxy(st.colGRPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		proxies[signal] = p
	}
	truth, err := newFleetTruth(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(truth.close)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		envFleetFeed + "=" + truth.addr(),
		envFleetSeed + "=" + strconv.FormatUint(*fleetSeed, 10),
		envFleetCluster + "=" + strconv.Itoa(*fleetCluster),
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://" + proxies["metrics"].addr(),
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://" + proxies["traces"].addr(),
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://" + proxies["logs"].addr(),
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRIC_EXPORT_INTERVAL=" + strconv.FormatInt(interval.Milliseconds(), 10),
		// The rest as TestFullStack gives raft-node.
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
		"OTEL_EXPORTER_OTLP_TIMEOUT=60000",
		"OTEL_BSP_EXPORT_TIMEOUT=60000",
		"OTEL_BLRP_EXPORT_TIMEOUT=60000",
	}
	var children []*exec.Cmd
	for i := range nprocs {
		first, next := i*n/nprocs, (i+1)*n/nprocs
		childEnv := append(slices.Clip(env), envFleetFirst+"="+strconv.Itoa(first), envFleetCount+"="+strconv.Itoa(next-first))
		if *fleetHeap {
			childEnv = append(childEnv, envFleetHeapProfile+"="+filepath.Join(st.example, ".e2e-logs", fmt.Sprintf("fleet-N%d-child%d.heap", n, i)))
		}
		children = append(children, st.start(t, "fleet-child-"+strconv.Itoa(i), exe, childEnv,
			"-test.run=^TestFleetNodes$", "-test.v", "-test.timeout=0"))
	}
	checkChildren := func(when string) {
		t.Helper()
		var dead []string
		for i, c := range children {
			if !alive(c.Process.Pid) {
				dead = append(dead, fmt.Sprintf("fleet-child-%d (pid %d)", i, c.Process.Pid))
			}
		}
		if p := truth.problems(); len(dead) > 0 || len(p) > 0 {
			t.Fatalf("%s: children died: %v %v (their logs: fleet-child-*.log)", when, dead, p)
		}
	}

	began := time.Now()
	testsupport.Poll(t, "every child runs its nodes", 2*time.Minute, pollEvery, func() error {
		if up := truth.running(); up < n {
			return fmt.Errorf("%d of %d nodes running", up, n)
		}
		return nil
	})
	fig.upIn = time.Since(began)
	checkChildren("starting the nodes")
	for seen := 0.0; int(seen) != n; time.Sleep(time.Second) {
		res, err := st.prom.query(`count(count by (instance) (cluster_lifecycle_state{job="fleet-node"}))`)
		if err == nil {
			seen = sampleValue(res)
		}
		if time.Since(began) > 3*time.Minute {
			t.Fatalf("after %v, %v of %d nodes in Prometheus (%v); %s", time.Since(began).Round(time.Second), seen, n, err, diagnose(st, colLog))
		}
	}
	fig.seenIn = time.Since(began)
	t.Logf("%d nodes running %v after the children started, all in Prometheus after %v", n, fig.upIn.Round(time.Millisecond), fig.seenIn.Round(time.Millisecond))
	time.Sleep(time.Until(began.Add(*fleetWarmup)))
	checkChildren("warming up")

	// The steady-state window.
	ws := time.Now()
	we := ws.Add(steady)
	fig.loadWindow[0] = loadavg()
	pids := fleetPids(st, children)
	before := readAll(t, pids)
	sentBefore := proxyCounts(proxies)
	colLogFrom := fileSize(colLog)

	_, priorChanges := truth.count(ws.Add(-20*time.Second), ws)
	priorAll, _ := truth.count(ws.Add(-20*time.Second), ws)
	promSampler := newFleetSampler(fleetPromSamples, ws, we, float64(priorChanges)/20, *fleetSeed)
	jaegerSampler := newFleetSampler(fleetJaegerSamples, ws, we, float64(priorAll)/20, *fleetSeed+1)
	var (
		polls   sync.WaitGroup
		mu      sync.Mutex
		promS   []promSample
		jaegerS []jaegerSample
	)
	truth.setHook(func(prev string, r fleetRecord) {
		if prev != r.Phase && promSampler.take(r.at()) {
			polls.Go(func() {
				s := pollPrometheus(st.prom, truth, r)
				mu.Lock()
				promS = append(promS, s)
				mu.Unlock()
			})
		}
		if jaegerSampler.take(r.at()) {
			polls.Go(func() {
				s := pollJaeger("http://"+st.jaegerHTTP, r)
				mu.Lock()
				jaegerS = append(jaegerS, s)
				mu.Unlock()
			})
		}
	})
	var checks []fleetCheck
	colRSSMax := int64(0)
	tick := time.NewTicker(fleetCheckEvery)
	for time.Now().Before(we) {
		<-tick.C
		checkChildren("in the steady-state window")
		checks = append(checks, exactnessCheck(st.prom, time.Now()))
		if ps, err := readProc(st.collector.Process.Pid); err == nil {
			colRSSMax = max(colRSSMax, ps.rss)
		}
	}
	tick.Stop()
	truth.setHook(nil)
	after := readAll(t, pids)
	sentAfter := proxyCounts(proxies)
	fig.loadWindow[1] = loadavg()
	fig.windowLen = time.Since(ws)
	fig.colRSSMax = colRSSMax
	fig.transitions, fig.changes = truth.count(ws, we)

	// What Prometheus holds at the end of the window, what the collector
	// logged in it, and (when scraped) what scraping the collector cost.
	fig.colWarn, fig.colErr, fig.colLastErr = logLevels(colLog, colLogFrom)
	fig.series = queryNumber(t, st.prom, `count({job="fleet-node"})`)
	if head, err := tsdbHeadSeries(st.prom.base); err != nil {
		t.Errorf("TSDB status: %v", err)
	} else {
		fig.headSeries = float64(head)
	}
	if res, err := st.prom.query(`count by (__name__) ({job="fleet-node"})`); err == nil {
		fig.seriesByName = map[string]float64{}
		for _, s := range res {
			fig.seriesByName[s.Metric["__name__"]] = sampleValue([]sample{s})
		}
	}
	if res, err := st.prom.query(`cluster_lifecycle_state{job="fleet-node",instance="` + fleetInstance(0) + `"}`); err == nil && len(res) > 0 {
		fig.stateLabels = slices.Sorted(maps.Keys(res[0].Metric))
	}
	if !push {
		span := fmt.Sprintf("[%ds]", int(fig.windowLen.Seconds()))
		fig.scrapeAvg = queryNumber(t, st.prom, `avg_over_time(scrape_duration_seconds{job="otel-collector"}`+span+`)`)
		fig.scrapeMax = queryNumber(t, st.prom, `max_over_time(scrape_duration_seconds{job="otel-collector"}`+span+`)`)
		fig.scrapeSamples = queryNumber(t, st.prom, `avg_over_time(scrape_samples_scraped{job="otel-collector"}`+span+`)`)
		fig.scrapeUp = queryNumber(t, st.prom, `min_over_time(up{job="otel-collector"}`+span+`)`)
	}
	fig.openFiles = map[string]int{"collector": openFiles(st.collector.Process.Pid), "test (proxies)": openFiles(os.Getpid())}

	polls.Wait() // each gives up after fleetSampleGiveUp
	checkChildren("after the window")

	// Stop the children as an orchestrator would (SIGTERM): each node goes
	// Stopping and flushes. A child that exits other than by passing
	// TestFleetNodes (a leak, a failed shutdown) fails the run.
	truth.stopping()
	for i, c := range children {
		stop(c, time.Minute)
		logf := filepath.Join(st.logs, "fleet-child-"+strconv.Itoa(i)+".log")
		if out, err := os.ReadFile(logf); err != nil || !strings.Contains(string(out), "--- PASS: TestFleetNodes") || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
			t.Errorf("fleet-child-%d did not stop cleanly; its log: %s", i, logf)
		}
	}
	truth.close()
	fig.heapPerNode, fig.stackPerNode, fig.goroutinesPerNode, fig.memNodes = truth.memoryPerNode()

	// Judge and report.
	fig.cost(before, after, sentBefore, sentAfter)
	var problems []string
	for _, c := range checks {
		v := truth.judge(c, window)
		fig.checks++
		if v.exact {
			fig.exact++
		}
		if v.torn > 0 {
			fig.tornChecks++
			fig.tornNodes += v.torn
		}
		if v.beyond > 0 {
			fig.beyondChecks++
			fig.beyondNodes += v.beyond
		}
		if len(v.problems) == 0 {
			fig.within++
		} else {
			problems = append(problems, fmt.Sprintf("at %s: %s", c.at.Format("15:04:05.000"), firstOf(v.problems, 3)))
		}
		if v.lagging > fig.worstLagging {
			fig.worstLagging = v.lagging
		}
		if v.maxGap > fig.worstGap {
			fig.worstGap, fig.worstGapPhase = v.maxGap, v.gapPhase
		}
	}
	fig.prom, fig.jaeger = promS, jaegerS
	report := fig.markdown()
	t.Log("\n" + report)
	out := *fleetOut
	if out == "" {
		out = filepath.Join(st.example, ".e2e-logs", fmt.Sprintf("fleet-N%d.md", n))
	}
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		t.Errorf("writing the figures: %v", err)
	} else {
		t.Logf("figures written to %s", out)
	}

	if fig.checks == 0 {
		t.Error("no exactness check ran")
	}
	if len(problems) > 0 {
		t.Errorf("%d of %d exactness checks are off by more than the %v window (%d with a torn view of %d node(s), %d with %d node(s) in a phase beyond the window): %s",
			len(problems), fig.checks, window, fig.tornChecks, fig.tornNodes, fig.beyondChecks, fig.beyondNodes, firstOf(problems, 5))
	}
	for _, s := range promS {
		if s.lost {
			t.Errorf("%s's transition to %s (seq %d, at %s) never reached Prometheus within %v",
				fleetInstance(s.rec.Node), s.rec.Phase, s.rec.Seq, s.rec.at().Format("15:04:05.000"), fleetSampleGiveUp)
		}
	}
	for _, s := range jaegerS {
		if s.lost {
			t.Errorf("%s's transition event seq %d (to %s, at %s) never reached Jaeger within %v",
				fleetInstance(s.rec.Node), s.rec.Seq, s.rec.Phase, s.rec.at().Format("15:04:05.000"), fleetSampleGiveUp)
		}
	}
}

// diagnose says what may hold Prometheus back: its scrapes of the
// collector, or the collector's failed pushes (its log's warnings and
// errors), and how busy each program is.
func diagnose(st *stack, colLog string) string {
	var parts []string
	if st.push {
		warn, errs, last := logLevels(colLog, 0)
		parts = append(parts, fmt.Sprintf("the collector logged %d warnings and %d errors; the last error: %s", warn, errs, last))
	} else {
		for _, q := range []string{
			`up{job="otel-collector"}`,
			`scrape_duration_seconds{job="otel-collector"}`,
			`scrape_samples_scraped{job="otel-collector"}`,
			`count_over_time(up{job="otel-collector"}[1m])`,
			`sum_over_time(up{job="otel-collector"}[1m])`,
		} {
			res, err := st.prom.query(q)
			parts = append(parts, fmt.Sprintf("%s = %v (%v)", q, sampleValue(res), err))
		}
	}
	for name, pid := range map[string]int{"collector": st.collector.Process.Pid, "prometheus": st.prometheus.Process.Pid} {
		a, err1 := readProc(pid)
		time.Sleep(5 * time.Second)
		b, err2 := readProc(pid)
		if err1 == nil && err2 == nil {
			parts = append(parts, fmt.Sprintf("%s: %.0f %% of a core over 5 s, RSS %s", name, 100*(b.cpu-a.cpu).Seconds()/5, mib(b.rss)))
		}
	}
	parts = append(parts, "load "+loadavg())
	return strings.Join(parts, "; ")
}

// promAt runs an instant query evaluated at at.
func promAt(p promAPI, q string, at time.Time) ([]sample, error) {
	return p.get("/api/v1/query", url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)}})
}

// sampleValue is the value of the first sample of res, 0 if none.
func sampleValue(res []sample) float64 {
	if len(res) == 0 || len(res[0].Value) < 2 {
		return 0
	}
	v, _ := strconv.ParseFloat(fmt.Sprint(res[0].Value[1]), 64)
	return v
}

func queryNumber(t *testing.T, p promAPI, q string) float64 {
	t.Helper()
	res, err := p.query(q)
	if err != nil {
		t.Errorf("%s: %v", q, err)
		return 0
	}
	return sampleValue(res)
}

// exactnessCheck asks Prometheus, at one instant, how many nodes are in
// each phase and which phase each node is in.
func exactnessCheck(p promAPI, at time.Time) fleetCheck {
	c := fleetCheck{at: at, counts: map[string]int{}, shown: map[string][]string{}}
	res, err := promAt(p, `count by (state) (cluster_lifecycle_state{job="fleet-node"} == 1)`, at)
	if err != nil {
		c.err = err
		return c
	}
	for _, s := range res {
		c.counts[s.Metric["state"]] = int(sampleValue([]sample{s}))
	}
	if res, err = promAt(p, `cluster_lifecycle_state{job="fleet-node"} == 1`, at); err != nil {
		c.err = err
		return c
	}
	for _, s := range res {
		c.shown[s.Metric["instance"]] = append(c.shown[s.Metric["instance"]], s.Metric["state"])
	}
	return c
}

// promSample is the freshness of one phase change in Prometheus.
type promSample struct {
	rec        fleetRecord
	counted    time.Duration // until phase_entries_total counted it (-1: never)
	shown      time.Duration // until the state gauge showed it (-1: never)
	passedOver bool          // the node left the phase before the gauge showed it
	lost       bool          // not even counted within fleetSampleGiveUp
}

// pollPrometheus looks for r in Prometheus every fleetPollSample: the
// node's gauge at 1 for r's phase, from an export that has counted r
// (phase_entries_total ≥ r.Entries: the same export, so not an earlier
// stay in the same phase).
func pollPrometheus(p promAPI, truth *fleetTruth, r fleetRecord) promSample {
	q := `{__name__=~"cluster_lifecycle_state|cluster_lifecycle_phase_entries_total",job="fleet-node",instance="` + fleetInstance(r.Node) + `"}`
	out := promSample{rec: r, counted: -1, shown: -1}
	for {
		at := time.Now()
		if res, err := promAt(p, q, at); err == nil {
			var state, entries float64
			for _, s := range res {
				switch {
				case s.Metric["__name__"] == "cluster_lifecycle_state" && s.Metric["state"] == r.Phase:
					state = sampleValue([]sample{s})
				case s.Metric["__name__"] == "cluster_lifecycle_phase_entries_total" && s.Metric["state"] == r.Phase:
					entries = sampleValue([]sample{s})
				}
			}
			if entries >= float64(r.Entries) {
				if out.counted < 0 {
					out.counted = at.Sub(r.at())
				}
				if state == 1 {
					out.shown = at.Sub(r.at())
					return out
				}
				if left := truth.leftAt(r); !left.IsZero() && left.Before(at) {
					out.passedOver = true
					return out
				}
			}
		}
		if time.Since(r.at()) > fleetSampleGiveUp {
			out.lost = true
			return out
		}
		time.Sleep(time.Until(at.Add(fleetPollSample)))
	}
}

// jaegerSample is the freshness of one transition's span event in Jaeger.
type jaegerSample struct {
	rec   fleetRecord
	found time.Duration
	lost  bool
}

// pollJaeger looks for the span event of r every fleetPollSample: a span
// of r's node (resource service.instance.id) with the event whose
// cluster.lifecycle.seq is r's. The event is on the node's episode span,
// which is exported when the episode ends (Ready, Failed, Stopping).
func pollJaeger(base string, r fleetRecord) jaegerSample {
	tags, _ := json.Marshal(map[string]string{"service.instance.id": fleetInstance(r.Node), "cluster.lifecycle.seq": strconv.FormatUint(r.Seq, 10)})
	out := jaegerSample{rec: r}
	for {
		at := time.Now()
		q := url.Values{
			"service": {"fleet-node"}, "tags": {string(tags)}, "limit": {"1"},
			"start": {strconv.FormatInt(r.at().Add(-30*time.Minute).UnixMicro(), 10)},
			"end":   {strconv.FormatInt(at.Add(time.Minute).UnixMicro(), 10)},
		}
		if res, err := http.Get(base + "/api/traces?" + q.Encode()); err == nil {
			var body struct {
				Data []jaegerTrace `json:"data"`
			}
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if err == nil && len(body.Data) > 0 {
				out.found = at.Sub(r.at())
				return out
			}
		}
		if time.Since(r.at()) > fleetSampleGiveUp {
			out.lost = true
			return out
		}
		time.Sleep(time.Until(at.Add(fleetPollSample)))
	}
}

// setScrapeInterval changes the running Prometheus's scrape interval (the
// stack's configuration has 1 s) and reloads it.
func setScrapeInterval(t *testing.T, st *stack, every time.Duration) {
	t.Helper()
	raw, err := os.ReadFile(st.promConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"].(map[string]any)["scrape_interval"] = fmt.Sprintf("%dms", every.Milliseconds())
	if raw, err = yaml.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.promConfig, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, st.logs, st.promtool, "check", "config", st.promConfig)
	res, err := http.Post("http://"+st.promWeb+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reloading Prometheus: %s", res.Status)
	}
	t.Logf("Prometheus scrapes every %v", every)
}

// fleetPids are the processes whose cost is measured, by name.
func fleetPids(st *stack, children []*exec.Cmd) map[string][]int {
	pids := map[string][]int{
		"collector":  {st.collector.Process.Pid},
		"prometheus": {st.prometheus.Process.Pid},
		"test":       {os.Getpid()},
	}
	st.p.mu.Lock()
	for _, c := range st.p.list {
		if strings.HasPrefix(filepath.Base(c.Path), "jaeger") {
			pids["jaeger"] = append(pids["jaeger"], c.Process.Pid)
		}
	}
	st.p.mu.Unlock()
	for _, c := range children {
		pids["nodes"] = append(pids["nodes"], c.Process.Pid)
	}
	return pids
}

// readAll reads /proc for every process of pids, summing each group.
func readAll(t *testing.T, pids map[string][]int) map[string]procStat {
	t.Helper()
	out := map[string]procStat{}
	for name, list := range pids {
		var sum procStat
		for _, pid := range list {
			ps, err := readProc(pid)
			if err != nil {
				t.Fatalf("%s (pid %d): %v", name, pid, err)
			}
			sum.cpu += ps.cpu
			sum.rss += ps.rss
			sum.hwm += ps.hwm
		}
		out[name] = sum
	}
	return out
}

// proxyCounts is the bytes sent to the collector so far, per signal, and
// (key "back") what the collector sent back on all three.
func proxyCounts(proxies map[string]*countingProxy) map[string]int64 {
	out := map[string]int64{}
	for name, p := range proxies {
		out[name] = p.sent.Load()
		out["back"] += p.back.Load()
		out["conns"] += p.conns.Load()
	}
	return out
}
