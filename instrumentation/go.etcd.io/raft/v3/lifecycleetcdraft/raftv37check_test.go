//go:build !raftv37

package lifecycleetcdraft_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A module that requires raft v3.7.0 builds this package against v3.7.0
// (Go's minimal version selection), whose messages have pointer fields:
// the package must compile and keep every promise there too. This test
// copies the module, makes it require v3.7.0, and runs its vet and every
// test against it, with raftv37_test.go in place of raftv36_test.go (the
// module proxy must be reachable).
func TestPassesAgainstRaftV37(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "go.mod", "go.sum") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", "..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"mod", "edit", "-replace=github.com/lifecyclekit/lifecycle=" + root},
		{"get", "go.etcd.io/raft/v3@v3.7.0"},
		{"mod", "tidy"},
		{"vet", "-tags", "raftv37", "."},
		{"test", "-tags", "raftv37", "-count=1", "-timeout", "5m", "."},
	} {
		cmd := exec.CommandContext(t.Context(), goCmd, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "test" {
			t.Logf("against raft v3.7.0: %s", strings.TrimSpace(string(out)))
		}
	}
}
