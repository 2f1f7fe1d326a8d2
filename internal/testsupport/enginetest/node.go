package enginetest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Node is one node of an engine module's test cluster as its tracker
// shows it. A module's node (or member) embeds it, sets its fields and
// opens it before it makes the Observer; its methods read the tracker.
type Node struct {
	Name    string               // the node in the test's messages
	Attrs   []attribute.KeyValue // the tracker's attributes (a node.id): on every point of its state gauge
	WaitFor time.Duration        // how long WaitState waits
	Started time.Time            // the origin of Timeline: when the test started the node

	Tracker *otellifecycle.Tracker  // made by Open
	Reader  *sdkmetric.ManualReader // the tracker's metrics and its Observer's, made by Open
	mp      *sdkmetric.MeterProvider
}

// Open makes n's tracker as every engine module's test cluster does: its
// metrics to a ManualReader of its own, which the Observer inherits, its
// logs discarded, Attrs on its points, then opts. Close ends them.
func (n *Node) Open(opts ...otellifecycle.Option) error {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tracker, err := otellifecycle.New(append([]otellifecycle.Option{
		otellifecycle.WithMeterProvider(mp),
		otellifecycle.WithLogger(slog.New(slog.DiscardHandler)),
		otellifecycle.WithAttributes(n.Attrs...),
	}, opts...)...)
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return err
	}
	n.Tracker, n.Reader, n.mp = tracker, reader, mp
	return nil
}

// Close closes n's tracker, failing t when it cannot, and its meter
// provider. Close the Observer first.
func (n *Node) Close(t testing.TB) {
	t.Helper()
	if err := n.Tracker.Close(); err != nil {
		t.Errorf("%s: tracker.Close: %v", n.Name, err)
	}
	_ = n.mp.Shutdown(context.Background())
}

// WaitState waits, within WaitFor, until n's tracker satisfies until, and
// returns that state (see testsupport.WaitState).
func (n *Node) WaitState(t testing.TB, what string, until func(otellifecycle.State) bool) otellifecycle.State {
	t.Helper()
	return testsupport.WaitState(t, n.Tracker, n.Name+": "+what, n.WaitFor, until)
}

// WaitAll waits until every one of nodes is what until says.
func WaitAll[N interface {
	WaitState(testing.TB, string, func(otellifecycle.State) bool) otellifecycle.State
}](t testing.TB, what string, until func(otellifecycle.State) bool, nodes ...N) {
	t.Helper()
	for _, n := range nodes {
		n.WaitState(t, what, until)
	}
}

// IsReady matches Ready{nodes}.
func IsReady(nodes int) func(otellifecycle.State) bool {
	return func(s otellifecycle.State) bool { return s == otellifecycle.ReadyState(nodes) }
}

// IsPhase matches any state of phase p.
func IsPhase(p otellifecycle.Phase) func(otellifecycle.State) bool {
	return func(s otellifecycle.State) bool { return s.Phase == p }
}

// Short writes a state as the tests compare it: the label, with its
// payload after a colon ("joining:0", "ready:3", "failed:<reason>").
func Short(s otellifecycle.State) string {
	switch s.Phase {
	case otellifecycle.Joining:
		return fmt.Sprintf("joining:%d", s.Attempt)
	case otellifecycle.Ready:
		return fmt.Sprintf("ready:%d", s.Nodes)
	case otellifecycle.Failed:
		return "failed:" + s.Reason
	}
	return s.Label()
}

// States is the tracker's whole path, from its initial state, each as
// Short writes it. It fails t when the history kept is shorter than the
// path.
func (n *Node) States(t testing.TB) []string {
	t.Helper()
	h := n.Tracker.History()
	if len(h) == 0 {
		return []string{Short(n.Tracker.Current())}
	}
	if h[0].Seq != 1 {
		t.Fatalf("%s: history starts at seq %d: longer than the history kept", n.Name, h[0].Seq)
	}
	out := []string{Short(h[0].From)}
	for _, tr := range h {
		out = append(out, Short(tr.To))
	}
	return out
}

// Phases is States with the payloads dropped and repeats merged: the
// shape of the path, for where the payloads depend on timing (Ready{1},
// Ready{2}, Ready{3} while nodes join).
func (n *Node) Phases(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, s := range n.States(t) {
		p, _, _ := strings.Cut(s, ":")
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// WantStates checks that n's states are want.
func (n *Node) WantStates(t testing.TB, want ...string) {
	t.Helper()
	if got := n.States(t); !slices.Equal(got, want) {
		t.Errorf("%s: states %q, want %q", n.Name, got, want)
	}
}

// WantStatesEnd checks that n's states end in want, in order.
func (n *Node) WantStatesEnd(t testing.TB, want ...string) {
	t.Helper()
	if got := n.States(t); len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("%s: states %q, want them to end in %q", n.Name, got, want)
	}
}

// WantPhases checks that n's phases are want.
func (n *Node) WantPhases(t testing.TB, want ...string) {
	t.Helper()
	if got := n.Phases(t); !slices.Equal(got, want) {
		t.Errorf("%s: phases %q, want %q (states %q)", n.Name, got, want, n.States(t))
	}
}

// Timeline writes the history with times relative to since (or to
// Started), for the logs of the scenarios.
func (n *Node) Timeline(since time.Time) string {
	if since.IsZero() {
		since = n.Started
	}
	var b strings.Builder
	for _, tr := range n.Tracker.History() {
		fmt.Fprintf(&b, " [%+.3fs %s]", tr.At.Sub(since).Seconds(), Short(tr.To))
	}
	return b.String()
}

// NotReadyAfter is how long n's tracker was not Ready between since and
// until, from its history.
func (n *Node) NotReadyAfter(since, until time.Time) time.Duration {
	ready := n.ReadyAt(since)
	var total time.Duration
	from := since
	for _, tr := range n.Tracker.History() {
		if !tr.At.After(since) || tr.At.After(until) {
			continue
		}
		if !ready {
			total += tr.At.Sub(from)
		}
		ready, from = tr.To.IsReady(), tr.At
	}
	if !ready {
		total += until.Sub(from)
	}
	return total
}

// ReadyAt says whether n's tracker was Ready at instant at.
func (n *Node) ReadyAt(at time.Time) bool {
	ready := false
	for _, tr := range n.Tracker.History() {
		if tr.At.After(at) {
			break
		}
		ready = tr.To.IsReady()
	}
	return ready
}

// EnteredAt returns when n's tracker first entered phase p after since,
// and the state it entered.
func (n *Node) EnteredAt(p otellifecycle.Phase, since time.Time) (time.Time, otellifecycle.State, bool) {
	for _, tr := range n.Tracker.History() {
		if tr.At.After(since) && tr.To.Phase == p {
			return tr.At, tr.To, true
		}
	}
	return time.Time{}, otellifecycle.State{}, false
}

// WantGauge checks the tracker's one-hot state gauge: every label
// reported with Attrs, want's at 1, the others at 0.
func (n *Node) WantGauge(t testing.TB, want otellifecycle.Phase) {
	t.Helper()
	testsupport.WantStateGauge(t, n.Reader, want, n.Attrs...)
}

// Collect reads every metric of n's meter provider, by name.
func (n *Node) Collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := n.Reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Tracker is a tracker whose logs are discarded, with opts, closed when
// the test ends: for the tests that need no cluster.
func Tracker(t testing.TB, opts ...otellifecycle.Option) *otellifecycle.Tracker {
	t.Helper()
	tracker, err := otellifecycle.New(append([]otellifecycle.Option{otellifecycle.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tracker.Close() })
	return tracker
}
