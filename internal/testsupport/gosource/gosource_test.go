package gosource_test

import (
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/gosource"
)

// Read finds every flag of the named FlagSet with its kind and place, and
// none of another FlagSet's or of a test file's.
func TestReadFindsTheFlagsOfTheNamedFlagSetOnly(t *testing.T) {
	p, err := gosource.Read(filepath.Join("testdata", "prog"), "prog")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for name, f := range p.Flags {
		kinds[name] = f.Kind
		if !strings.HasPrefix(f.Pos, filepath.Join("testdata", "prog", "main.go")+":") {
			t.Errorf("-%s defined at %q", name, f.Pos)
		}
	}
	want := map[string]string{"listen": "string", "bootstrap": "bool", "drain-delay": "duration",
		"workers": "int", "seed": "string", "verbose": "bool"}
	if !maps.Equal(kinds, want) {
		t.Errorf("flags %v, want %v", kinds, want)
	}
}

func TestReadFindsRoutesAndGRPCHealth(t *testing.T) {
	p, err := gosource.Read(filepath.Join("testdata", "prog"), "prog")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"/readyz": {""}, "/cluster/join": {"POST"}, "/status": {"GET"}}
	if !reflect.DeepEqual(p.Routes, want) {
		t.Errorf("routes %v, want %v", p.Routes, want)
	}
	if !p.ServesGET("/readyz") || !p.ServesGET("/status") || p.ServesGET("/cluster/join") || p.ServesGET("/livez") {
		t.Errorf("ServesGET wrong for routes %v", p.Routes)
	}
	if !strings.HasPrefix(p.GRPCHealth, filepath.Join("testdata", "prog", "main.go")+":") {
		t.Errorf("GRPCHealth %q", p.GRPCHealth)
	}
}

// What cannot be read is an error that says where, never a flag missed.
func TestReadFailsOnWhatItCannotRead(t *testing.T) {
	for _, c := range []struct{ dir, set, want string }{
		{"computed", "computed", "computed/main.go:8: a flag whose name is not a string literal"},
		{"prog", "nosuch", `no flag.NewFlagSet("nosuch", …) defining flags`},
		{"empty", "prog", "no Go files"},
	} {
		_, err := gosource.Read(filepath.Join("testdata", c.dir), c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%s, %s) = %v, want an error saying %q", c.dir, c.set, err, c.want)
		}
	}
}

func TestSplitPattern(t *testing.T) {
	for pattern, want := range map[string][2]string{
		"/readyz": {"", "/readyz"}, "POST /cluster/join": {"POST", "/cluster/join"},
		"GET  example.com/x": {"GET", "/x"}, "example.com/": {"", "/"},
	} {
		if m, p := gosource.SplitPattern(pattern); m != want[0] || p != want[1] {
			t.Errorf("SplitPattern(%q) = %q, %q, want %q", pattern, m, p, want)
		}
	}
}
