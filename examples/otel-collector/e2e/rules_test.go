//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lifecyclekit/lifecycle/mixin"
)

// TestRulesOnPrometheus2And3 runs the rule tests with Debian's promtool
// (Prometheus 2.42) and the built one (3.16), with the same expectations:
// an alert that fires on one and not the other is a bug (Prometheus 3
// made ranges left-open). It also renders the mixin for the UTF-8
// translation strategies and tests those rules, and checks that a node
// of every job the example's Prometheus configs scrape is one the
// rendered rules alert on.
func TestRulesOnPrometheus2And3(t *testing.T) {
	repo, example := paths(t)
	promtool2, _ := debianBinaries(t)
	promtool3 := filepath.Join(buildAll(t, repo, example, t.TempDir(), "prometheus")["prometheus"], "promtool")
	both := map[string]string{"Prometheus 2": promtool2, "Prometheus 3": promtool3}

	t.Run("the example's alerts", func(t *testing.T) {
		for name, promtool := range both {
			if out, err := runOutput(example, promtool, "check", "rules", "alerts.yml"); err != nil {
				t.Errorf("%s: %v\n%s", name, err, out)
			}
			if out, err := runOutput(example, promtool, "test", "rules", "alerts_test.yml"); err != nil {
				t.Errorf("%s: %v\n%s", name, err, out)
			}
		}
	})

	// The rendered rules for a UTF-8 translation strategy, next to a copy
	// of their test file. utf8-status quotes a label name with dots,
	// which only Prometheus 3 reads.
	for _, c := range []struct {
		config string
		tools  []string
	}{
		{"utf8", []string{"Prometheus 2", "Prometheus 3"}},
		{"utf8-status", []string{"Prometheus 3"}},
	} {
		t.Run(c.config, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := mixin.Write(repo, mixin.Output{
				Config:     "mixin/testdata/" + c.config + ".jsonnet",
				Alerts:     filepath.Join(dir, c.config+"-alerts.yml"),
				Dashboards: filepath.Join(dir, "dashboards"),
			}); err != nil {
				t.Fatal(err)
			}
			test, err := os.ReadFile(filepath.Join(repo, "mixin", "testdata", c.config+"_test.yml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.config+"_test.yml"), test, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, name := range c.tools {
				if out, err := runOutput(dir, both[name], "test", "rules", c.config+"_test.yml"); err != nil {
					t.Errorf("%s: %v\n%s", name, err, out)
				}
			}
		})
	}

	// Every job the example's Prometheus configs give series: a scrape
	// job's name, or, for a job that honors the labels it scrapes (the
	// collector's exporter) and for OTLP, the nodes' service.name
	// (raft-node's, as docker-compose.yaml runs it). A node of each fails
	// briefly and stops reporting: ClusterNodeFailed and ClusterNodeDown
	// must name it.
	t.Run("every example job is one the rules alert on", func(t *testing.T) {
		jobs := exampleJobs(t, example)
		if len(jobs) == 0 {
			t.Fatal("the example's Prometheus configurations give no job")
		}
		dir := t.TempDir()
		alerts, err := os.ReadFile(filepath.Join(example, "alerts.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), alerts, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "jobs_test.yml"), []byte(jobsTest(t, alerts, jobs)), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, promtool := range both {
			if out, err := runOutput(dir, promtool, "test", "rules", "jobs_test.yml"); err != nil {
				t.Errorf("%s: the rules miss a job the examples produce (%v): %v\n%s", name, jobs, err, out)
			}
		}
	})
}

// exampleJobs are the job labels the example's Prometheus configurations
// give the nodes' series.
func exampleJobs(t *testing.T, example string) []string {
	t.Helper()
	var jobs []string
	add := func(j string) {
		if !slices.Contains(jobs, j) {
			jobs = append(jobs, j)
		}
	}
	files, err := filepath.Glob(filepath.Join(example, "prometheus*.yml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("Prometheus configurations %v: %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			OTLP          map[string]any `yaml:"otlp"`
			ScrapeConfigs []struct {
				JobName     string `yaml:"job_name"`
				HonorLabels bool   `yaml:"honor_labels"`
			} `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.OTLP != nil {
			add(serviceName)
		}
		for _, sc := range cfg.ScrapeConfigs {
			if sc.HonorLabels {
				add(serviceName) // the collector's exporter: job = service.name
			} else {
				add(sc.JobName)
			}
		}
	}
	return jobs
}

// serviceName is the service.name raft-node gives itself (node.go), on
// docker-compose.yaml's nodes as in the e2e.
const serviceName = "raft-node"

// jobsTest is a promtool test file: for each job, a node that fails
// briefly at minute 2 and stops reporting after minute 10, and the
// ClusterNodeFailed and ClusterNodeDown alerts (labels and annotations,
// as alerts.yml has them) that must name it.
func jobsTest(t *testing.T, alerts []byte, jobs []string) string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alerts, &file); err != nil {
		t.Fatal(err)
	}
	annotations := map[string]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			out, err := yaml.Marshal(map[string]any{"exp_annotations": r.Annotations})
			if err != nil {
				t.Fatal(err)
			}
			annotations[r.Alert] = strings.ReplaceAll(string(out), "{{ $labels.instance }}", "x")
		}
	}
	indent := func(s string) string {
		return "            " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n            ")
	}
	var b strings.Builder
	b.WriteString("rule_files: [alerts.yml]\nevaluation_interval: 1m\ntests:\n")
	for _, job := range jobs {
		fmt.Fprintf(&b, `  - interval: 1m
    input_series:
      - series: 'cluster_lifecycle_state{job=%q,instance="x",state="ready"}'
        values: "1x10"
      - series: 'cluster_lifecycle_state{job=%[1]q,instance="x",state="failed"}'
        values: "0x10"
      - series: 'cluster_lifecycle_phase_entries_total{job=%[1]q,instance="x",state="failed"}'
        values: "0 0 1x8"
    alert_rule_test:
      - eval_time: 3m
        alertname: ClusterNodeFailed
        exp_alerts:
          - exp_labels: {severity: critical, job: %[1]q, instance: x}
%[2]s
      - eval_time: 12m
        alertname: ClusterNodeDown
        exp_alerts:
          - exp_labels: {severity: critical, job: %[1]q, instance: x}
%[3]s
`, job, indent(annotations["ClusterNodeFailed"]), indent(annotations["ClusterNodeDown"]))
	}
	return b.String()
}
