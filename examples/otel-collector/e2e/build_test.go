//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The programs the e2e tests build, by version.
const (
	collectorVersion  = "v0.165.0"
	jaegerVersion     = "v1.75.0"  // = Jaeger v2.12.0
	prometheusVersion = "v0.316.0" // = Prometheus 3.16
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

// buildAll builds (or reuses) the collector, Jaeger and Prometheus 3,
// cached by version, and builds the raft node fresh. The heavy builds
// run side by side. The collector's key also holds a hash of its module
// (collectorHash): a changed component list builds a new binary.
// Prometheus is a folder holding prometheus and promtool, from
// go install of github.com/prometheus/prometheus at prometheusVersion
// (about 8 minutes cold on 2 cores; without the builtinassets tag its
// web UI answers 500, which nothing here uses).
// With names, only those are built.
func buildAll(t *testing.T, repo, example, logs string, names ...string) map[string]string {
	t.Helper()
	cache := filepath.Join(repo, ".cache", "bin")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{
		"collector":  filepath.Join(cache, "otelcol-lifecycle-"+collectorVersion+"-"+collectorHash(t, example)),
		"jaeger":     filepath.Join(cache, "jaeger-"+jaegerVersion),
		"prometheus": filepath.Join(cache, "prometheus-"+prometheusVersion),
		"raft-node":  filepath.Join(logs, "raft-node"),
	}
	// Each build writes to out.tmp and renames it: an interrupted build
	// leaves nothing that looks cached.
	builds := map[string]func(tmp string) *exec.Cmd{
		"collector": func(tmp string) *exec.Cmd {
			return goCmd(filepath.Join(example, "collector"), "build", "-o", tmp, ".")
		},
		"jaeger": func(tmp string) *exec.Cmd {
			return goCmd(filepath.Join(example, "jaeger"), "build", "-o", tmp, "github.com/jaegertracing/jaeger/cmd/jaeger")
		},
		"prometheus": func(tmp string) *exec.Cmd {
			cmd := goCmd(repo, "install",
				"github.com/prometheus/prometheus/cmd/prometheus@"+prometheusVersion,
				"github.com/prometheus/prometheus/cmd/promtool@"+prometheusVersion)
			cmd.Env = append(cmd.Env, "GOBIN="+tmp)
			return cmd
		},
		"raft-node": func(tmp string) *exec.Cmd {
			return goCmd(filepath.Join(repo, "examples", "raft-node"), "build", "-o", tmp, ".")
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(builds))
	for name, build := range builds {
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		out := bins[name]
		if _, err := os.Stat(out); err == nil && name != "raft-node" {
			t.Logf("reusing %s", out)
			continue
		}
		wg.Go(func() {
			start := time.Now()
			tmp := out + ".tmp"
			_ = os.RemoveAll(tmp)
			raw, err := build(tmp).CombinedOutput()
			if err == nil {
				err = os.Rename(tmp, out)
			}
			if err != nil {
				errs <- fmt.Errorf("building %s: %v\n%s", name, err, raw)
				return
			}
			t.Logf("built %s in %v", name, time.Since(start).Round(time.Second))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return bins
}

func goCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	return cmd
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

// debianBinaries finds Debian's promtool (Prometheus 2.42, for the rule
// tests on Prometheus 2) and Alertmanager (0.25), installing the
// packages prometheus and prometheus-alertmanager with apt when either
// is missing and this user may.
func debianBinaries(t *testing.T) (promtool, alertmanager string) {
	t.Helper()
	find := func() error {
		var err1, err2 error
		promtool, err1 = exec.LookPath("promtool")
		alertmanager, err2 = exec.LookPath("prometheus-alertmanager")
		if err1 != nil {
			return err1
		}
		return err2
	}
	if find() == nil {
		return promtool, alertmanager
	}
	if os.Geteuid() != 0 {
		t.Fatal("promtool (Prometheus 2) or Alertmanager is not installed: install them first (Debian: sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager)")
	}
	t.Log("installing Prometheus 2 (for its promtool) and Alertmanager from apt")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "prometheus", "prometheus-alertmanager"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := find(); err != nil {
		t.Fatal(err)
	}
	return promtool, alertmanager
}
