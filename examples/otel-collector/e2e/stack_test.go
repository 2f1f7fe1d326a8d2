//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// stack is the example's backends on loopback: Jaeger, the collector and
// Prometheus, with the shipped config files, each on ports of its own.
type stack struct {
	repo, example, logs string
	bins                map[string]string
	promBin, promtool   string
	p                   *procs

	jaegerOTLP, jaegerHTTP, jaegerGRPC string
	colGRPC, colHTTP, colProm          string
	promWeb, promConfig                string
	prom                               promAPI

	collector, prometheus *exec.Cmd
	starts                map[string]int // how often each program was started

	// push, set before up: the collector pushes metrics to Prometheus's
	// remote-write receiver (collector.yaml overlaid with
	// collector-remotewrite.yaml), and Prometheus does not scrape it.
	push bool
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
	s.bins = buildAll(t, repo, example, logs)
	s.promBin, s.promtool = prometheusBinaries(t)
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

// up starts Jaeger, the collector and Prometheus, which also scrapes the
// nodes at direct (job raft-nodes), and waits until each answers.
func (s *stack) up(t *testing.T, direct []string) {
	t.Helper()
	s.start(t, "jaeger", s.bins["jaeger"], []string{
		"JAEGER_OTLP_GRPC_ENDPOINT=" + s.jaegerOTLP,
		"JAEGER_QUERY_HTTP_ENDPOINT=" + s.jaegerHTTP,
		"JAEGER_QUERY_GRPC_ENDPOINT=" + s.jaegerGRPC,
	}, "--config=file:"+filepath.Join(s.example, "jaeger.yaml"))
	testsupport.Poll(t, "Jaeger answers", time.Minute, pollEvery, func() error { return httpOK("http://" + s.jaegerHTTP + "/api/services") })
	s.startCollector(t)
	scraped := s.colProm
	if s.push {
		scraped = ""
	}
	s.promConfig = loopbackPrometheusConfig(t, s.example, s.logs, scraped, direct)
	run(t, s.logs, s.promtool, "check", "config", s.promConfig)
	s.startPrometheus(t)
}

// startCollector starts the collector (again) on its ports.
func (s *stack) startCollector(t *testing.T) {
	t.Helper()
	args := []string{"--config=file:" + filepath.Join(s.example, "collector.yaml")}
	if s.push {
		args = append(args, "--config=file:"+filepath.Join(s.example, "collector-remotewrite.yaml"))
	}
	s.collector = s.start(t, "otelcol", s.bins["collector"], []string{
		"OTLP_GRPC_ENDPOINT=" + s.colGRPC,
		"OTLP_HTTP_ENDPOINT=" + s.colHTTP,
		"PROMETHEUS_EXPORTER_ENDPOINT=" + s.colProm,
		"PROMETHEUS_REMOTE_WRITE_ENDPOINT=http://" + s.promWeb + "/api/v1/write",
		"JAEGER_OTLP_ENDPOINT=" + s.jaegerOTLP,
	}, args...)
	if s.push {
		// The collector starts its receivers after its exporters: a
		// node can export once the OTLP port accepts.
		testsupport.Poll(t, "the collector's OTLP/gRPC port accepts", time.Minute, pollEvery, func() error { return tcpOpen(s.colGRPC) })
		return
	}
	testsupport.Poll(t, "the collector's Prometheus endpoint answers", time.Minute, pollEvery, func() error { return httpOK("http://" + s.colProm + "/metrics") })
}

// startPrometheus starts Prometheus (again) on its port and storage, with
// its remote-write receiver when the collector pushes.
func (s *stack) startPrometheus(t *testing.T) {
	t.Helper()
	args := []string{
		"--config.file=" + s.promConfig,
		"--storage.tsdb.path=" + filepath.Join(s.logs, "tsdb"),
		"--web.listen-address=" + s.promWeb,
		"--web.enable-lifecycle",
	}
	if s.push {
		args = append(args, "--web.enable-remote-write-receiver")
	}
	s.prometheus = s.start(t, "prometheus", s.promBin, nil, args...)
	testsupport.Poll(t, "Prometheus answers queries", 2*time.Minute, pollEvery, func() error { _, err := s.prom.query("up"); return err })
}
