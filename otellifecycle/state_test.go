package otellifecycle_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// The labels are what dashboards and alerts match on: they never change.
func TestLabelsAreStable(t *testing.T) {
	want := []string{"starting", "restarting", "bootstrapping", "joining", "ready", "draining", "stopping", "failed"}
	if got := otellifecycle.AllLabels(); !slices.Equal(got, want) {
		t.Fatalf("AllLabels() = %q, want %q", got, want)
	}
}

func TestAllLabelsMatchesPhases(t *testing.T) {
	phases := otellifecycle.Phases()
	labels := otellifecycle.AllLabels()
	if len(phases) != 8 || len(labels) != len(phases) {
		t.Fatalf("%d phases, %d labels; want 8 of each", len(phases), len(labels))
	}
	for i, p := range phases {
		if got := (otellifecycle.State{Phase: p}).Label(); got != labels[i] {
			t.Errorf("State{%v}.Label() = %q, want %q", p, got, labels[i])
		}
	}
	// Callers get copies: changing one must not change the next.
	phases[0] = "mutated"
	labels[0] = "mutated"
	if otellifecycle.Phases()[0] != otellifecycle.Starting || otellifecycle.AllLabels()[0] != "starting" {
		t.Fatal("Phases/AllLabels share their backing array with callers")
	}
}

func TestOnlyReadyIsReady(t *testing.T) {
	for _, p := range otellifecycle.Phases() {
		s := otellifecycle.State{Phase: p}
		if s.IsReady() != (p == otellifecycle.Ready) {
			t.Errorf("State{%v}.IsReady() = %v", p, s.IsReady())
		}
	}
}

// The Detail texts are the origin's log `detail` and systemd STATUS= lines.
func TestDetailTexts(t *testing.T) {
	cases := []struct {
		s    otellifecycle.State
		want string
	}{
		{otellifecycle.StartingState(), "starting"},
		{otellifecycle.RestartingState(), "restart"},
		{otellifecycle.BootstrappingState(), "bootstrapping new cluster"},
		{otellifecycle.JoiningState(0), "joining cluster (attempt 0)"},
		{otellifecycle.JoiningState(7), "joining cluster (attempt 7)"},
		{otellifecycle.ReadyState(1), "ready (1 nodes)"},
		{otellifecycle.ReadyState(3), "ready (3 nodes)"},
		{otellifecycle.DrainingState(), "draining"},
		{otellifecycle.StoppingState(), "stopping"},
		{otellifecycle.FailedState("timeout"), "failed: timeout"},
		{otellifecycle.FailedState(""), "failed: "},
	}
	for _, c := range cases {
		if got := c.s.Detail(); got != c.want {
			t.Errorf("%#v.Detail() = %q, want %q", c.s, got, c.want)
		}
		if got := c.s.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.s, got, c.want)
		}
	}
}

// The origin's serde internally-tagged snake_case form, byte for byte.
func TestJSONBytesForEveryPhase(t *testing.T) {
	cases := []struct {
		s    otellifecycle.State
		want string
	}{
		{otellifecycle.StartingState(), `{"phase":"starting"}`},
		{otellifecycle.RestartingState(), `{"phase":"restarting"}`},
		{otellifecycle.BootstrappingState(), `{"phase":"bootstrapping"}`},
		{otellifecycle.JoiningState(1), `{"phase":"joining","attempt":1}`},
		{otellifecycle.JoiningState(4294967295), `{"phase":"joining","attempt":4294967295}`},
		{otellifecycle.ReadyState(3), `{"phase":"ready","nodes":3}`},
		{otellifecycle.DrainingState(), `{"phase":"draining"}`},
		{otellifecycle.StoppingState(), `{"phase":"stopping"}`},
		{otellifecycle.FailedState("timeout"), `{"phase":"failed","reason":"timeout"}`},
		{otellifecycle.FailedState(`say "hi" \ <b>&`), `{"phase":"failed","reason":"say \"hi\" \\ <b>&"}`},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.s)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", c.s, err)
		}
		// encoding/json HTML-escapes Marshaler output; the method itself
		// must produce serde's bytes.
		direct, err := c.s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(direct) != c.want {
			t.Errorf("MarshalJSON(%v) = %s, want %s", c.s, direct, c.want)
		}
		var back otellifecycle.State
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", got, err)
		}
		if back != c.s {
			t.Errorf("round trip of %s = %#v, want %#v", got, back, c.s)
		}
	}
}

func TestJSONRejectsWhatIsNotAState(t *testing.T) {
	cases := []struct {
		in, wantErr string
	}{
		{`{"phase":"exploded"}`, `unknown phase "exploded"`},
		{`{"phase":"Ready","nodes":1}`, `unknown phase "Ready"`},
		{`{}`, `missing "phase"`},
		{`{"phase":null}`, `missing "phase"`},
		{`{"phase":"joining"}`, `phase "joining" needs "attempt"`},
		{`{"phase":"ready"}`, `phase "ready" needs "nodes"`},
		{`{"phase":"failed"}`, `phase "failed" needs "reason"`},
		{`{"phase":"failed","reason":null}`, `phase "failed" needs "reason"`},
		{`{"phase":"starting","attempt":1}`, `phase "starting" takes no "attempt"`},
		{`{"phase":"ready","nodes":3,"reason":"x"}`, `phase "ready" takes no "reason"`},
		{`{"phase":"joining","attempt":-1}`, `attempt`},
		{`{"phase":"joining","attempt":4294967296}`, `attempt`},
		{`{"phase":"ready","nodes":-3}`, `"nodes" must be ≥ 0, got -3`},
		{`{"phase":"ready","nodes":"3"}`, `nodes`},
		{`{"phase":"ready","nodes":3,"extra":true}`, `unknown field "extra"`},
		{`{"phase":"ready","nodes":3} {}`, `after the state`},
		{`[]`, `cannot unmarshal`},
		{`"ready"`, `cannot unmarshal`},
		{`{"phase":"ready","nodes":3`, `unexpected`},
	}
	for _, c := range cases {
		var s otellifecycle.State
		if err := json.Unmarshal([]byte(c.in), &s); err == nil {
			t.Errorf("json.Unmarshal(%s) accepted it as %#v", c.in, s)
		}
		// The method's own message, as any decoder calling it would see.
		err := s.UnmarshalJSON([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("Unmarshal(%s) error = %v, want it to contain %q", c.in, err, c.wantErr)
		}
	}
}

func TestUnmarshalNormalizesUntrustedReasons(t *testing.T) {
	var s otellifecycle.State
	in := `{"phase":"failed","reason":"line1\nREADY=1\u0000` + strings.Repeat("x", 5000) + `"}`
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s.Reason, "\n\x00") || len(s.Reason) > otellifecycle.MaxReasonBytes {
		t.Fatalf("reason not normalized: %d bytes, %q…", len(s.Reason), s.Reason[:40])
	}
}

func TestFailedStateNormalizesItsReason(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain reason", "plain reason"},
		{"two\nlines", "two lines"},
		{"cr\r\nlf", "cr  lf"},
		{"nul\x00byte", "nul byte"},
		{"tab\there", "tab here"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"c1 \u0085 control", "c1   control"},
		{"\nREADY=1", " READY=1"},
		{"ünïcödé ✓", "ünïcödé ✓"},
	}
	for _, c := range cases {
		if got := otellifecycle.FailedState(c.in).Reason; got != c.want {
			t.Errorf("FailedState(%q).Reason = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReasonsAreBoundedAtACharacterBoundary(t *testing.T) {
	long := strings.Repeat("é", otellifecycle.MaxReasonBytes) // 2 bytes each
	r := otellifecycle.FailedState(long).Reason
	if len(r) > otellifecycle.MaxReasonBytes {
		t.Fatalf("reason is %d bytes, bound is %d", len(r), otellifecycle.MaxReasonBytes)
	}
	if !utf8.ValidString(r) || !strings.HasSuffix(r, "…") {
		t.Fatalf("cut reason is not valid UTF-8 ending in an ellipsis: …%q", r[len(r)-8:])
	}
	exact := strings.Repeat("a", otellifecycle.MaxReasonBytes)
	if got := otellifecycle.FailedState(exact).Reason; got != exact {
		t.Fatal("a reason of exactly the bound was cut")
	}
}

func TestValidate(t *testing.T) {
	bad := []otellifecycle.State{
		{Phase: "exploded"},
		{Phase: otellifecycle.Starting, Attempt: 1},
		{Phase: otellifecycle.Ready, Nodes: -1},
		{Phase: otellifecycle.Joining, Reason: "x"},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%#v.Validate() = nil, want an error", s)
		}
	}
	for _, p := range otellifecycle.Phases() {
		if err := (otellifecycle.State{Phase: p}).Validate(); err != nil {
			t.Errorf("zero payload for %v: %v", p, err)
		}
	}
}
