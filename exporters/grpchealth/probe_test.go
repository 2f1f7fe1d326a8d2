package grpchealth_test

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health"

	"github.com/lifecyclekit/lifecycle/exporters/grpchealth"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// probeVersion is the grpc-health-probe the lifecycle is checked with: the
// program Kubernetes users ran before the kubelet's own grpc probe, and
// still run in exec probes. The Makefile's GRPC_HEALTH_PROBE_VERSION builds
// it.
const probeVersion = "v0.4.62"

// grpc-health-probe's exit codes for a reply (v0.4.x): 0 is SERVING, 4 is
// anything else. The test asserts them as measured.
const (
	probeServing    = 0
	probeNotServing = 4
)

// probeBinary returns grpc-health-probe at probeVersion: the file
// GRPC_HEALTH_PROBE names (make test sets it), or else the one make tools
// builds into <repository>/.cache/bin. The test does not build it: fetching
// from the module proxy in the middle of the tests fails without explaining
// itself where there is no network. It fails, saying how to get the tool,
// when there is none, and when the file is another program or version.
func probeBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GRPC_HEALTH_PROBE")
	if bin == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, ".cache", "bin", "grpc-health-probe-"+probeVersion)
	}
	info, err := buildinfo.ReadFile(bin)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("grpc-health-probe %s is not at %s: run `make tools` in the repository's root (make test does), "+
			"or set GRPC_HEALTH_PROBE to a grpc-health-probe %s built with `go install github.com/grpc-ecosystem/grpc-health-probe@%s`",
			probeVersion, bin, probeVersion, probeVersion)
	}
	if err != nil {
		t.Fatalf("%s is not a Go program: %v", bin, err)
	}
	if info.Main.Path != "github.com/grpc-ecosystem/grpc-health-probe" || info.Main.Version != probeVersion {
		t.Fatalf("%s is a build of %q at %q, want github.com/grpc-ecosystem/grpc-health-probe at %s (the Makefile's GRPC_HEALTH_PROBE_VERSION and this test's probeVersion must agree)",
			bin, info.Main.Path, info.Main.Version, probeVersion)
	}
	return bin
}

// probe runs grpc-health-probe once and returns its exit code and output.
func probe(t *testing.T, bin, addr, service string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	args := []string{"-addr=" + addr, "-connect-timeout=2s", "-rpc-timeout=2s"}
	if service != "" {
		args = append(args, "-service="+service)
	}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("grpc-health-probe %s: %v\n%s", strings.Join(args, " "), err, out)
		return 0, ""
	}
}

// grpc-health-probe, run against a real server whose health a real tracker
// drives, passes exactly while the node is Ready, for the whole server and
// for a named service, through a whole lifecycle.
func TestGRPCHealthProbeThroughALifecycle(t *testing.T) {
	bin := probeBinary(t)
	hs := health.NewServer()
	addr, _ := serve(t, hs)
	const named = "db.v1.Query"
	tr := newTracker(t, grpchealth.New(hs, "", named))

	ctx := t.Context()
	steps := []struct {
		phase otellifecycle.Phase
		to    func()
		want  int
	}{
		{otellifecycle.Starting, func() {}, probeNotServing},
		{otellifecycle.Joining, func() { tr.ToJoining(ctx, 0) }, probeNotServing},
		{otellifecycle.Ready, func() { tr.ToReady(ctx, 3) }, probeServing},
		{otellifecycle.Draining, func() { tr.ToDraining(ctx) }, probeNotServing},
		{otellifecycle.Ready, func() { tr.ToReady(ctx, 3) }, probeServing},
		{otellifecycle.Failed, func() { tr.ToFailed(ctx, "lost quorum") }, probeNotServing},
		{otellifecycle.Ready, func() { tr.ToReady(ctx, 3) }, probeServing},
		{otellifecycle.Stopping, func() { tr.ToStopping(ctx) }, probeNotServing},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "grpc-health-probe %s exit codes:\n%-10s %-8s %-8s %s\n", probeVersion, "phase", `""`, named, "(expected)")
	for _, step := range steps {
		step.to()
		codes := make([]int, 0, 2)
		for _, svc := range []string{"", named} {
			// The sink is asynchronous: poll until the probe agrees, for 10s.
			var code int
			testsupport.Poll(t, fmt.Sprintf("%s: grpc-health-probe -service=%q", step.phase, svc), 10*time.Second, 20*time.Millisecond, func() error {
				var out string
				if code, out = probe(t, bin, addr, svc); code != step.want {
					return fmt.Errorf("exited %d, want %d; output:\n%s", code, step.want, out)
				}
				return nil
			})
			codes = append(codes, code)
		}
		fmt.Fprintf(&table, "%-10s %-8d %-8d (%d)\n", step.phase, codes[0], codes[1], step.want)
	}
	t.Log(table.String())

	// After Stopping the health server is frozen: a later Ready does not
	// make the probe pass.
	tr.ToReady(ctx, 3)
	if err := tr.Close(); err != nil { // waits for the sink's queue
		t.Fatal(err)
	}
	if code, out := probe(t, bin, addr, ""); code != probeNotServing {
		t.Errorf("Ready after Stopping: grpc-health-probe exited %d, want %d; output:\n%s", code, probeNotServing, out)
	}
}
