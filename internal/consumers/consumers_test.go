// Package consumers checks what a user of this repository's modules meets
// first: a module of their own that imports one of ours, and a plain
// `go mod tidy`. Replace directives apply only to the module that holds
// them, never to its importers, so a public module (or its tests, which
// `go mod tidy` follows too) that builds only thanks to a replace of its
// own breaks every user's tidy. The test builds such a user for every
// public module of the checkout and runs the go command on it.
package consumers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// module is one public module of the checkout.
type module struct {
	path string // its module path
	dir  string // its directory, absolute
}

// publicModules returns every module of the checkout whose go.mod is
// outside examples/ (programs and their tests, not libraries) and
// .cache/ (build outputs), found from the files themselves, so a module
// added later is checked without being listed anywhere.
func publicModules(t *testing.T, root string) []module {
	t.Helper()
	var mods []module
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (rel == "examples" || rel == ".cache" || rel == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" {
			return nil
		}
		path, err := modulePath(p)
		if err != nil {
			return err
		}
		mods = append(mods, module{path: path, dir: filepath.Dir(p)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) == 0 {
		t.Fatalf("no go.mod under %s", root)
	}
	slices.SortFunc(mods, func(a, b module) int { return strings.Compare(a.path, b.path) })
	return mods
}

// modulePath reads the module directive of the go.mod file at p.
func modulePath(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no module directive", p)
}

// goEnv is the environment of every go command here: the caller's, as a
// user's shell would have it (GOPROXY, GOPATH, caches), without a
// workspace and without GOFLAGS, which could hide what a plain command
// does (-mod=mod, for instance).
func goEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOFLAGS=") || strings.HasPrefix(kv, "GOWORK=")
	})
	return append(env, "GOWORK=off")
}

// goCmd runs the go command in dir and returns its standard output; it
// fails the test with everything the command said when it fails.
func goCmd(t *testing.T, goBin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// A user's go mod tidy fetches from the module proxy, and so does
		// this one: say which, for when it is out of reach.
		proxy, _ := exec.Command(goBin, "env", "GOPROXY").Output()
		t.Fatalf("go %s in %s (GOPROXY=%s): %v\n%s%s", strings.Join(args, " "), dir, bytes.TrimSpace(proxy), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// packages lists the packages of m a user can take: libraries to import
// and commands to run, neither internal nor test-only.
func packages(t *testing.T, goBin string, m module) (libs, cmds []string) {
	t.Helper()
	out := goCmd(t, goBin, m.dir, "list", "-f", `{{if .GoFiles}}{{.Name}} {{.ImportPath}}{{end}}`, "./...")
	for line := range strings.Lines(out) {
		name, p, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		rel := "/" + strings.TrimPrefix(p, m.path) + "/"
		if strings.Contains(rel, "/internal/") {
			continue
		}
		if name == "main" {
			cmds = append(cmds, p)
		} else {
			libs = append(libs, p)
		}
	}
	return libs, cmds
}

// For every public module, a module of a user's own that imports all its
// packages, with no replace but those pointing at this checkout's modules
// (which stand for the published versions), passes a plain go mod tidy
// and builds.
func TestConsumersTidyWithoutReplace(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs the go command, and there is none on PATH: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	mods := publicModules(t, root)
	var replaces strings.Builder
	for _, m := range mods {
		fmt.Fprintf(&replaces, "replace %s => %s\n", m.path, m.dir)
	}
	for _, m := range mods {
		t.Run(m.path, func(t *testing.T) {
			libs, cmds := packages(t, goBin, m)
			if len(libs)+len(cmds) == 0 {
				t.Fatalf("%s has no package a user can import or run", m.path)
			}
			// Libraries are imported by the consumer's own program;
			// commands are its tools (go.mod's tool directive), as a
			// module takes a program it runs with go tool.
			dir := t.TempDir()
			var gomod strings.Builder
			gomod.WriteString("module example.com/consumer\n\ngo 1.26.0\n\n")
			for _, c := range cmds {
				fmt.Fprintf(&gomod, "tool %s\n", c)
			}
			gomod.WriteString(replaces.String())
			var main strings.Builder
			main.WriteString("package main\n\n")
			for _, p := range libs {
				fmt.Fprintf(&main, "import _ %q\n", p)
			}
			main.WriteString("\nfunc main() {}\n")
			for name, text := range map[string]string{"go.mod": gomod.String(), "main.go": main.String()} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			goCmd(t, goBin, dir, "mod", "tidy")
			goCmd(t, goBin, dir, "build", "./...")
			if len(cmds) > 0 {
				goCmd(t, goBin, dir, "build", "tool")
			}
			t.Logf("%d libraries imported, %d commands as tools: go mod tidy and go build pass", len(libs), len(cmds))
		})
	}
}
