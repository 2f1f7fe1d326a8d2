//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// stack is the example's backends on loopback: Jaeger, the collector and
// Prometheus 3, with the shipped config files, each on ports of its own;
// for TestFullStack also a Prometheus per other way in (each node scraped
// directly; OTLP into Prometheus's own receiver) and Alertmanager.
type stack struct {
	repo, example, logs string
	bins                map[string]string
	promBin, promtool   string // Prometheus 3, built
	promtool2, amBin    string // Debian's promtool (Prometheus 2) and Alertmanager
	p                   *procs

	jaegerOTLP, jaegerHTTP, jaegerGRPC string
	colGRPC, colHTTP, colProm          string

	// The Prometheus every test has: the collector's Prometheus exporter
	// scraped (prometheus.yml), or the collector pushing to it.
	promWeb, promConfig string
	prom                promAPI
	prometheus          *exec.Cmd

	// pipelines are every Prometheus up started, the primary one among
	// them, by name: "direct", "collector", "otlp".
	pipelines []*pipeline

	collector *exec.Cmd
	starts    map[string]int // how often each program was started

	// push, set before up: the collector pushes metrics to Prometheus's
	// remote-write receiver (collector.yaml overlaid with
	// collector-remotewrite.yaml), and Prometheus does not scrape it.
	push bool
	// shipped, set before up: Prometheus keeps the shipped scrape and
	// evaluation intervals (15 s) instead of 1 s.
	shipped bool

	// alertmanager, when up started it: where it listens, and the
	// webhook receiver its configuration sends to.
	amWeb   string
	webhook *webhook
}

// pipeline is one Prometheus, fed one way.
type pipeline struct {
	name    string // direct, collector or otlp
	file    string // its shipped configuration
	targets map[string][]string
	flags   []string

	web, config string
	api         promAPI
	cmd         *exec.Cmd
}

// newStack builds what it needs and gives the programs a log folder,
// removed when the test passes. Nothing is started yet.
func newStack(t *testing.T) *stack {
	t.Helper()
	repo, example := paths(t)
	logs := filepath.Join(example, ".e2e-logs", time.Now().UTC().Format("20060102T150405Z")+"-"+t.Name())
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of every program are in %s", logs)
			return
		}
		_ = os.RemoveAll(logs)
	})
	s := &stack{repo: repo, example: example, logs: logs, starts: map[string]int{}}
	s.promtool2, s.amBin = debianBinaries(t)
	s.bins = buildAll(t, repo, example, logs)
	s.promBin, s.promtool = filepath.Join(s.bins["prometheus"], "prometheus"), filepath.Join(s.bins["prometheus"], "promtool")
	ports := freePorts(t, 7)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	s.jaegerOTLP, s.jaegerHTTP, s.jaegerGRPC = addr(0), addr(1), addr(2)
	s.colGRPC, s.colHTTP, s.colProm = addr(3), addr(4), addr(5)
	s.promWeb = addr(6)
	s.prom = promAPI{base: "http://" + s.promWeb}
	s.p = newProcs(t, logs)
	return s
}

// start runs a program, naming its log after how many times it ran.
func (s *stack) start(t *testing.T, name, bin string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	s.starts[name]++
	if s.starts[name] > 1 {
		name += "-" + strconv.Itoa(s.starts[name])
	}
	return s.p.start(t, name, bin, env, args...)
}

// up starts Jaeger, the collector and Prometheus, and waits until each
// answers. Given the nodes' HTTP addresses (direct), it also starts
// Alertmanager with a webhook receiver, a Prometheus that scrapes the
// nodes directly (prometheus-direct.yml) and one that receives OTLP from
// the collector (prometheus-otlp.yml, collector-otlp.yaml), each
// Prometheus sending its alerts to Alertmanager with an external label
// pipeline=<name>.
func (s *stack) up(t *testing.T, direct []string) {
	t.Helper()
	s.start(t, "jaeger", s.bins["jaeger"], []string{
		"JAEGER_OTLP_GRPC_ENDPOINT=" + s.jaegerOTLP,
		"JAEGER_QUERY_HTTP_ENDPOINT=" + s.jaegerHTTP,
		"JAEGER_QUERY_GRPC_ENDPOINT=" + s.jaegerGRPC,
	}, "--config=file:"+filepath.Join(s.example, "jaeger.yaml"))
	testsupport.Poll(t, "Jaeger answers", time.Minute, pollEvery, func() error { return httpOK("http://" + s.jaegerHTTP + "/api/services") })

	primary := &pipeline{name: "collector", file: "prometheus.yml", web: s.promWeb,
		targets: map[string][]string{"otel-collector": {s.colProm}}}
	if s.push {
		primary.targets = map[string][]string{"otel-collector": nil}
		primary.flags = []string{"--web.enable-remote-write-receiver"}
	}
	if direct != nil {
		if s.webhook == nil {
			t.Fatal("up: the stack's webhook receiver is made first, by the test (it must outlive this step)")
		}
		s.startAlertmanager(t)
		ports := freePorts(t, 2)
		s.pipelines = append(s.pipelines,
			&pipeline{name: "direct", file: "prometheus-direct.yml", web: "127.0.0.1:" + strconv.Itoa(ports[0]),
				targets: map[string][]string{"raft-node": direct}},
			&pipeline{name: "otlp", file: "prometheus-otlp.yml", web: "127.0.0.1:" + strconv.Itoa(ports[1]),
				flags: []string{"--web.enable-otlp-receiver"}},
		)
	}
	s.pipelines = append(s.pipelines, primary)
	slices.SortFunc(s.pipelines, func(a, b *pipeline) int { return pipelineOrder(a.name) - pipelineOrder(b.name) })
	for _, pl := range s.pipelines {
		pl.api = promAPI{base: "http://" + pl.web}
		pl.config = s.loopbackPrometheusConfig(t, pl)
		run(t, s.logs, s.promtool, "check", "config", pl.config)
	}
	// Prometheus's OTLP receiver first, so that the collector's first
	// pushes land.
	if pl := s.pipeline("otlp"); pl != nil {
		s.startPipeline(t, pl)
	}
	s.startCollector(t)
	for _, pl := range s.pipelines {
		if pl.cmd == nil {
			s.startPipeline(t, pl)
		}
	}
	s.promConfig, s.prometheus = primary.config, primary.cmd
}

func pipelineOrder(name string) int {
	return slices.Index([]string{"direct", "collector", "otlp"}, name)
}

// pipeline is the Prometheus fed the way name says, or nil.
func (s *stack) pipeline(name string) *pipeline {
	for _, pl := range s.pipelines {
		if pl.name == name {
			return pl
		}
	}
	return nil
}

// startCollector starts the collector (again) on its ports.
func (s *stack) startCollector(t *testing.T) {
	t.Helper()
	args := []string{"--config=file:" + filepath.Join(s.example, "collector.yaml")}
	env := []string{
		"OTLP_GRPC_ENDPOINT=" + s.colGRPC,
		"OTLP_HTTP_ENDPOINT=" + s.colHTTP,
		"PROMETHEUS_EXPORTER_ENDPOINT=" + s.colProm,
		"PROMETHEUS_REMOTE_WRITE_ENDPOINT=http://" + s.promWeb + "/api/v1/write",
		"JAEGER_OTLP_ENDPOINT=" + s.jaegerOTLP,
	}
	if s.push {
		args = append(args, "--config=file:"+filepath.Join(s.example, "collector-remotewrite.yaml"))
	}
	if pl := s.pipeline("otlp"); pl != nil {
		// collector-otlp.yaml, and the Prometheus exporter kept too, so
		// that one collector feeds two pipelines.
		args = append(args, "--config=file:"+filepath.Join(s.example, "collector-otlp.yaml"),
			"--config=yaml:service::pipelines::metrics::exporters: [prometheus, otlphttp/prometheus]")
		env = append(env, "PROMETHEUS_OTLP_ENDPOINT=http://"+pl.web+"/api/v1/otlp/v1/metrics")
	}
	s.collector = s.start(t, "otelcol", s.bins["collector"], env, args...)
	if s.push {
		// The collector starts its receivers after its exporters: a
		// node can export once the OTLP port accepts.
		testsupport.Poll(t, "the collector's OTLP/gRPC port accepts", time.Minute, pollEvery, func() error { return tcpOpen(s.colGRPC) })
		return
	}
	testsupport.Poll(t, "the collector's Prometheus exporter answers", time.Minute, pollEvery, func() error { return httpOK("http://" + s.colProm + "/metrics") })
}

// startPrometheus starts the primary Prometheus (again) on its port and
// storage.
func (s *stack) startPrometheus(t *testing.T) {
	t.Helper()
	pl := s.pipeline("collector")
	s.startPipeline(t, pl)
	s.prometheus = pl.cmd
}

// startPipeline starts one Prometheus (again) on its port and storage.
func (s *stack) startPipeline(t *testing.T, pl *pipeline) {
	t.Helper()
	name, dir := "prometheus-"+pl.name, "tsdb-"+pl.name
	if pl.name == "collector" {
		name, dir = "prometheus", "tsdb" // as TestOutages and TestFleet have always named them
	}
	args := append([]string{
		"--config.file=" + pl.config,
		"--storage.tsdb.path=" + filepath.Join(s.logs, dir),
		"--web.listen-address=" + pl.web,
		"--web.enable-lifecycle",
	}, pl.flags...)
	pl.cmd = s.start(t, name, s.promBin, nil, args...)
	testsupport.Poll(t, name+" answers queries", 2*time.Minute, pollEvery, func() error { _, err := pl.api.query("up"); return err })
}

// loopbackPrometheusConfig is the pipeline's shipped file with only what
// loopback needs changed: its scrape jobs' targets on 127.0.0.1 (a job
// with no targets is dropped: the collector pushes), the rules file by
// absolute path, Alertmanager's address (or no alerting), an external
// label naming the pipeline, and, unless shipped, 1 s scrape and
// evaluation intervals.
func (s *stack) loopbackPrometheusConfig(t *testing.T, pl *pipeline) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.example, pl.file))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		cfg["global"] = global
	}
	if !s.shipped {
		global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	}
	global["external_labels"] = map[string]any{"pipeline": pl.name}
	cfg["rule_files"] = []any{filepath.Join(s.example, "alerts.yml")}
	if s.amWeb != "" {
		cfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []any{s.amWeb}}},
		}}}
	} else {
		delete(cfg, "alerting")
	}
	var jobs []any
	scrapes, _ := cfg["scrape_configs"].([]any)
	for _, sc := range scrapes {
		job := sc.(map[string]any)
		tg, ok := pl.targets[job["job_name"].(string)]
		if !ok {
			t.Fatalf("%s has a job the test does not know: %v", pl.file, job["job_name"])
		}
		if tg == nil {
			continue
		}
		job["static_configs"] = []any{map[string]any{"targets": tg}}
		jobs = append(jobs, job)
	}
	if len(jobs) > 0 {
		cfg["scrape_configs"] = jobs
	} else {
		delete(cfg, "scrape_configs")
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.logs, pl.file)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAlertmanager starts Alertmanager with the shipped
// alertmanager.yml, its webhook pointed at the stack's receiver.
func (s *stack) startAlertmanager(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.example, "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	receivers := cfg["receivers"].([]any)
	if len(receivers) != 1 {
		t.Fatalf("alertmanager.yml has %d receivers; the test knows one", len(receivers))
	}
	hooks := receivers[0].(map[string]any)["webhook_configs"].([]any)
	hooks[0].(map[string]any)["url"] = s.webhook.url
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.logs, "alertmanager.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s.amWeb = "127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])
	s.start(t, "alertmanager", s.amBin, nil,
		"--config.file="+path,
		"--storage.path="+filepath.Join(s.logs, "alertmanager"),
		"--web.listen-address="+s.amWeb,
		"--cluster.listen-address=", // no gossip port: one Alertmanager
	)
	testsupport.Poll(t, "Alertmanager is ready", time.Minute, pollEvery, func() error { return httpOK("http://" + s.amWeb + "/-/ready") })
}
