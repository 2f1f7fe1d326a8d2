//go:build e2e && fleet

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// fleetFigures are one run's measurements, as they go to BENCHMARKS.md.
type fleetFigures struct {
	nodes, procs                     int
	interval, scrape, window, steady time.Duration // scrape: 0 when pushed
	push                             bool          // -fleet.path=remotewrite
	warmup                           time.Duration
	seed                             uint64
	machine, nofile                  string
	args                             []string // the flags set, -fleet.nodes aside
	loadBefore                       string
	loadWindow                       [2]string
	started                          time.Time
	upIn, seenIn, windowLen          time.Duration

	transitions, changes int // in the window; changes: of the phase label

	checks, exact, within int
	worstLagging          int
	worstGap              int
	worstGapPhase         string
	tornChecks, tornNodes int // checks with nodes shown in two phases or none, and how many such views
	beyondChecks          int // checks with nodes in a phase they had left before the window
	beyondNodes           int

	prom   []promSample
	jaeger []jaegerSample

	colRSSBase, colRSSMax int64
	procs0, procs1        map[string]procStat
	bytes0, bytes1        map[string]int64

	series, headSeries                            float64
	seriesByName                                  map[string]float64
	scrapeAvg, scrapeMax, scrapeSamples, scrapeUp float64 // when scraped
	stateLabels                                   []string
	openFiles                                     map[string]int

	colWarn, colErr int    // warning and error lines in the collector's log over the window
	colLastErr      string // the last of those errors

	heapPerNode, stackPerNode, goroutinesPerNode float64 // the children's, as they stopped
	memNodes                                     int     // nodes those figures cover
}

func (f *fleetFigures) cost(before, after map[string]procStat, sent0, sent1 map[string]int64) {
	f.procs0, f.procs1, f.bytes0, f.bytes1 = before, after, sent0, sent1
}

// howToPrometheus says how metrics reach Prometheus.
func (f *fleetFigures) howToPrometheus() string {
	if f.push {
		return "the collector pushes every export to Prometheus (remote write)"
	}
	return fmt.Sprintf("Prometheus scrapes the collector every %v", f.scrape)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string {
	if b < 1024 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.2f KiB", b/1024)
}

// spread is "p50 x, p99 y, max z (n samples)" of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	p := percentiles(ds)
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%d samples)", secs(p[0]), secs(p[1]), secs(p[2]), len(ds))
}

func (f *fleetFigures) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	mins := f.windowLen.Minutes()
	n := float64(f.nodes)

	w("### %d nodes\n\n", f.nodes)
	makeArgs, goArgs := "", ""
	if len(f.args) > 0 {
		makeArgs = " FLEET_ARGS='" + strings.Join(f.args, " ") + "'"
		goArgs = " " + strings.Join(f.args, " ")
	}
	w("`make fleet FLEET_NODES=%d%s` (`go test -tags 'e2e fleet' -run '^TestFleet$' -count=1 -timeout 60m -v . -args -fleet.nodes=%d%s`), %s.\n",
		f.nodes, makeArgs, f.nodes, goArgs, f.started.UTC().Format("2006-01-02 15:04 MST"))
	w("Machine: %s. Open files limit %s.\n", f.machine, f.nofile)
	w("%d nodes in %d processes (seed %d); metric export every %v (`OTEL_METRIC_EXPORT_INTERVAL=%d`), span and log batches every 200 ms; %s. ",
		f.nodes, f.procs, f.seed, f.interval, f.interval.Milliseconds(), f.howToPrometheus())
	w("Every node running %s after the children started, every node in Prometheus after %s; a %s window after %v of warm-up.\n",
		secs(f.upIn), secs(f.seenIn), f.windowLen.Round(time.Second), f.warmup)
	w("Load (1, 5, 15 min): %s before the run; %s at the window's start, %s at its end (the run's own load included).\n\n",
		f.loadBefore, f.loadWindow[0], f.loadWindow[1])

	w("| figure | %d nodes |\n|---|---|\n", f.nodes)
	w("| transitions in the window (of which phase changes) | %d (%d): %.3f per node per second |\n", f.transitions, f.changes, float64(f.transitions)/n/f.windowLen.Seconds())

	var shown, counted []time.Duration
	passed, lost := 0, 0
	for _, s := range f.prom {
		if s.shown >= 0 {
			shown = append(shown, s.shown)
		}
		if s.counted >= 0 {
			counted = append(counted, s.counted)
		}
		if s.passedOver {
			passed++
		}
		if s.lost {
			lost++
		}
	}
	w("| freshness: phase change → state gauge at 1 in a Prometheus query (poll every %v) | %s; %d sampled phases ended before the gauge showed them; %d lost |\n",
		fleetPollSample, spread(shown), passed, lost)
	w("| freshness: phase change → counted in `cluster_lifecycle_phase_entries_total` | %s |\n", spread(counted))
	var found, ending, inside []time.Duration
	jlost := 0
	for _, s := range f.jaeger {
		if s.lost {
			jlost++
			continue
		}
		found = append(found, s.found)
		if s.rec.Phase == "ready" || s.rec.Phase == "failed" {
			ending = append(ending, s.found)
		} else {
			inside = append(inside, s.found)
		}
	}
	w("| freshness: transition → its span event in Jaeger | %s; %d lost |\n", spread(found), jlost)
	w("| … of which transitions that end their episode (to ready, failed) | %s |\n", spread(ending))
	w("| … of which transitions inside an episode (exported when it ends) | %s |\n", spread(inside))
	w("| exactness: `count by (state) (cluster_lifecycle_state{job=\"fleet-node\"} == 1)` every %v, and each node's phase | %d checks: %d equal to the truth at that instant, %d within the %v window; worst: %d nodes shown in the phase they had just left, a phase's count off by %d (%s) |\n",
		fleetCheckEvery, f.checks, f.exact, f.within, f.window, f.worstLagging, f.worstGap, f.worstGapPhase)
	w("| … checks the window does not excuse | %d with a torn view (%d node views in two phases at once or in none); %d with a node in a phase it had left before the window (%d views) |\n",
		f.tornChecks, f.tornNodes, f.beyondChecks, f.beyondNodes)

	cpu := func(name string) time.Duration { return f.procs1[name].cpu - f.procs0[name].cpu }
	col := cpu("collector")
	w("| collector CPU | %s over the window (%.1f %% of one core): %.4f CPU-s per node per minute |\n",
		secs(col), 100*col.Seconds()/f.windowLen.Seconds(), col.Seconds()/n/mins)
	rss0, rss1 := f.procs0["collector"].rss, f.procs1["collector"].rss
	w("| collector RSS | %s with no node; %s at the window's start, %s at its end (highest seen %s): %s per node at the end, %s per node at the highest |\n",
		mib(f.colRSSBase), mib(rss0), mib(rss1), mib(max(f.colRSSMax, rss0, rss1)), kib(float64(rss1-f.colRSSBase)/n), kib(float64(max(f.colRSSMax, rss0, rss1)-f.colRSSBase)/n))
	w("| Prometheus series per node | %.1f (`count({job=\"fleet-node\"})` %.0f / %d); head series (`/api/v1/status/tsdb`) %.0f, %.1f per node |\n",
		f.series/n, f.series, f.nodes, f.headSeries, f.headSeries/n)
	if len(f.seriesByName) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(f.seriesByName)) {
			parts = append(parts, fmt.Sprintf("`%s` %.1f", k, f.seriesByName[k]/n))
		}
		w("| … per node, by metric | %s |\n", strings.Join(parts, ", "))
	}
	exports := f.windowLen.Seconds() / f.interval.Seconds()
	metrics := float64(f.bytes1["metrics"] - f.bytes0["metrics"])
	w("| bytes exported per node per export interval (metrics, OTLP/gRPC on the wire) | %s (%s per node per minute) |\n", kib(metrics/n/exports), kib(metrics/n/mins))
	w("| … traces, logs per node per minute | %s, %s (the collector's answers on all three: %s) |\n",
		kib(float64(f.bytes1["traces"]-f.bytes0["traces"])/n/mins), kib(float64(f.bytes1["logs"]-f.bytes0["logs"])/n/mins),
		kib(float64(f.bytes1["back"]-f.bytes0["back"])/n/mins))
	if !f.push {
		w("| Prometheus scraping the collector | %.0f samples a scrape, %.3f s on average, %.3f s at most; `up` at least %.0f throughout |\n",
			f.scrapeSamples, f.scrapeAvg, f.scrapeMax, f.scrapeUp)
	}
	w("| the collector's log over the window | %d warnings, %d errors", f.colWarn, f.colErr)
	if f.colErr > 0 {
		last := strings.NewReplacer("`", "'", "|", "\\|").Replace(f.colLastErr)
		if len(last) > 300 {
			last = last[:300] + "…"
		}
		w("; the last: `%s`", last)
	}
	w(" |\n")
	w("| labels of a state series | %s |\n", strings.Join(f.stateLabels, ", "))
	for _, name := range []string{"prometheus", "jaeger", "nodes", "test"} {
		what := map[string]string{"prometheus": "Prometheus", "jaeger": "Jaeger", "nodes": fmt.Sprintf("the nodes (%d processes)", f.procs), "test": "the test (proxies, polls)"}[name]
		c := cpu(name)
		w("| %s: CPU, RSS | %s (%.1f %% of one core, %.4f CPU-s per node per minute); %s |\n",
			what, secs(c), 100*c.Seconds()/f.windowLen.Seconds(), c.Seconds()/n/mins, mib(f.procs1[name].rss))
	}
	w("| the nodes' Go runtime, per node, as the children stopped (%d nodes reporting) | heap in use %s, stacks %s, %.1f goroutines |\n",
		f.memNodes, kib(f.heapPerNode), kib(f.stackPerNode), f.goroutinesPerNode)
	w("| open files at the window's end | collector %d, test with proxies %d |\n", f.openFiles["collector"], f.openFiles["test (proxies)"])
	return b.String()
}
