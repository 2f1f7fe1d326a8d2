package otellifecycle_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	lognoop "go.opentelemetry.io/otel/log/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func newGroup(t testing.TB, opts ...otellifecycle.GroupOption) (*otellifecycle.Group, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	g, err := otellifecycle.NewGroup(append([]otellifecycle.GroupOption{otellifecycle.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g, reader
}

func shard(t testing.TB, g *otellifecycle.Group, id int) *otellifecycle.Tracker {
	t.Helper()
	return newTracker(t, otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.Int("shard", id)))
}

// countPoints maps the aggregate's state label to its value.
func countPoints(t testing.TB, got map[string]metricdata.Metrics) map[string]int64 {
	t.Helper()
	m, ok := got["cluster.lifecycle.count"]
	if !ok {
		t.Fatal("no cluster.lifecycle.count")
	}
	sum := m.Data.(metricdata.Sum[int64])
	if sum.IsMonotonic || m.Unit != "{tracker}" {
		t.Fatalf("cluster.lifecycle.count: monotonic %v unit %q", sum.IsMonotonic, m.Unit)
	}
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		v, _ := dp.Attributes.Value("state")
		out[v.AsString()] = dp.Value
	}
	if len(out) != 8 {
		t.Fatalf("cluster.lifecycle.count has %d labels, want all 8", len(out))
	}
	return out
}

func TestGroupReportsEveryTrackerAndTheAggregateFromOneCallback(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	g, reader := newGroup(t, otellifecycle.WithAttributes(node))
	trackers := []*otellifecycle.Tracker{shard(t, g, 0), shard(t, g, 1), shard(t, g, 2)}
	trackers[0].ToReady(ctx, 3)
	trackers[1].ToJoining(ctx, 2)
	got := collect(t, reader)

	state := got["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64])
	if len(state.DataPoints) != 24 {
		t.Fatalf("%d state points for 3 trackers, want 24", len(state.DataPoints))
	}
	for i, want := range []string{"ready", "joining", "starting"} {
		expect := oneHot("state", want, node, attribute.Int("shard", i))
		var mine []metricdata.DataPoint[int64]
		for _, dp := range state.DataPoints {
			if v, _ := dp.Attributes.Value("shard"); v.AsInt64() == int64(i) {
				mine = append(mine, dp)
			}
		}
		metricdatatest.AssertAggregationsEqual(t, expect, metricdata.Gauge[int64]{DataPoints: mine}, metricdatatest.IgnoreTimestamp())
	}
	counts := countPoints(t, got)
	if counts["ready"] != 1 || counts["joining"] != 1 || counts["starting"] != 1 || counts["failed"] != 0 {
		t.Fatalf("aggregate %v", counts)
	}
	if n := len(got["cluster.lifecycle.phase.entries"].Data.(metricdata.Sum[int64]).DataPoints); n != 24 {
		t.Fatalf("%d entry points for 3 trackers, want 24", n)
	}
	for _, dp := range got["cluster.lifecycle.count"].Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("node.id"); v.AsString() != "n1" {
			t.Fatalf("aggregate point without the group's attributes: %v", dp.Attributes)
		}
	}
}

func TestAggregateOnlyGroupHasNoPerTrackerSeries(t *testing.T) {
	ctx := t.Context()
	g, reader := newGroup(t, otellifecycle.WithoutTrackerSeries(), otellifecycle.WithAttributes(attribute.String("node.id", "n1")))
	for i := range 50 {
		tr := shard(t, g, i)
		if i%2 == 0 {
			tr.ToJoining(ctx, 0)
			tr.ToReady(ctx, 3)
		}
	}
	got := collect(t, reader)
	if _, ok := got["cluster.lifecycle.state"]; ok {
		t.Fatal("per-tracker state series exported without tracker series")
	}
	if c := countPoints(t, got); c["ready"] != 25 || c["starting"] != 25 {
		t.Fatalf("aggregate %v", c)
	}
	// The aggregate times the joins of every shard, with the group's
	// attributes only.
	hist := got["cluster.lifecycle.phase.duration"].Data.(metricdata.Histogram[float64])
	if len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 25 || hist.DataPoints[0].Attributes.HasValue("shard") {
		t.Fatalf("duration points %v, want one joining point of 25 with the group's attributes", hist.DataPoints)
	}
	// The aggregate counts entries too, every phase from the start, so a
	// brief failure of one shard is seen by increase().
	if e := entryPoints(t, got); e["joining"] != 25 || e["ready"] != 25 || e["failed"] != 0 {
		t.Fatalf("aggregate entries %v", e)
	}
}

func TestTrackersLeaveTheGroupWithoutATrace(t *testing.T) {
	ctx := t.Context()
	g, reader := newGroup(t)
	var trackers []*otellifecycle.Tracker
	for i := range 10 {
		tr, err := otellifecycle.New(otellifecycle.WithLogger(quiet), otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.Int("shard", i)))
		if err != nil {
			t.Fatal(err)
		}
		tr.ToReady(ctx, 1)
		trackers = append(trackers, tr)
	}
	// Shards 0, 5 and 9 move away (first, middle, last of the group).
	for _, i := range []int{0, 5, 9} {
		if err := trackers[i].Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := collect(t, reader)
	if g.Len() != 7 || countPoints(t, got)["ready"] != 7 {
		t.Fatalf("after 3 leave: Len %d, aggregate %v", g.Len(), countPoints(t, got))
	}
	for _, dp := range got["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("shard"); v.AsInt64() == 0 || v.AsInt64() == 5 || v.AsInt64() == 9 {
			t.Fatalf("a tracker that left is still exported: %v", dp.Attributes)
		}
	}
	for _, tr := range trackers {
		_ = tr.Close()
	}
	if g.Len() != 0 || countPoints(t, collect(t, reader))["ready"] != 0 {
		t.Fatal("trackers left behind")
	}
	if _, ok := collect(t, reader)["cluster.lifecycle.state"]; ok {
		t.Fatal("state series of an empty group")
	}
}

// A tracker that joins after others left reports only its own life: no
// count, entry, pair or payload of a tracker that was there before it.
func TestAMemberJoiningAfterOthersLeftStartsAfresh(t *testing.T) {
	ctx := t.Context()
	g, reader := newGroup(t)
	for round := range 3 {
		var ts []*otellifecycle.Tracker
		for i := range 5 {
			tr := shard(t, g, round*10+i)
			if round == 0 { // the first round goes through failures and a big cluster
				tr.ToJoining(ctx, 7)
				tr.ToFailed(ctx, "seeds down")
				tr.ToReady(ctx, 1<<40)
			}
			ts = append(ts, tr)
		}
		got := collect(t, reader)
		for _, dp := range got["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64]).DataPoints {
			state, _ := dp.Attributes.Value("state")
			want := int64(0)
			if (round == 0 && state.AsString() == "ready") || (round > 0 && state.AsString() == "starting") {
				want = 1
			}
			if dp.Value != want {
				t.Fatalf("round %d: %v = %d, want %d", round, dp.Attributes, dp.Value, want)
			}
		}
		if round > 0 {
			for _, name := range []string{"cluster.lifecycle.transitions", "cluster.lifecycle.nodes", "cluster.lifecycle.join.attempt"} {
				if m, ok := got[name]; ok {
					t.Fatalf("round %d: fresh trackers report %s: %+v", round, name, m.Data)
				}
			}
			for _, dp := range got["cluster.lifecycle.phase.entries"].Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Value != 0 {
					t.Fatalf("round %d: a fresh tracker has entries %v = %d", round, dp.Attributes, dp.Value)
				}
			}
		} else {
			for _, dp := range got["cluster.lifecycle.nodes"].Data.(metricdata.Gauge[int64]).DataPoints {
				if dp.Value != 1<<40 {
					t.Fatalf("nodes %v = %d, want %d", dp.Attributes, dp.Value, int64(1<<40))
				}
			}
		}
		for _, tr := range ts {
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The Group's options shape what every member reports: the meter, the
// gauge's name and key, the group's attributes. A member's own
// WithAttributes are added to its series.
func TestGroupOptionsShapeEveryMembersSeries(t *testing.T) {
	ctx := t.Context()
	node := attribute.String("node.id", "n1")
	g, reader := newGroup(t,
		otellifecycle.WithMetricName("nodedb.cluster.state"),
		otellifecycle.WithStateAttributeKey("phase"),
		otellifecycle.WithAttributes(node))
	own := []attribute.KeyValue{attribute.Int("shard", 7), attribute.String("state", "CA")} // "state" is free: the group's key is "phase"
	tr := newTracker(t, otellifecycle.WithGroup(g), otellifecycle.WithAttributes(own...))
	tr.ToReady(ctx, 3)

	got := collect(t, reader) // every scope is ScopeName at Version
	member := append([]attribute.KeyValue{node}, own...)
	metricdatatest.AssertAggregationsEqual(t, oneHot("phase", "ready", member...), got["nodedb.cluster.state"].Data, metricdatatest.IgnoreTimestamp())
	metricdatatest.AssertAggregationsEqual(t, metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(member...), Value: 3}}},
		got["cluster.lifecycle.nodes"].Data, metricdatatest.IgnoreTimestamp())
	count := metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, DataPoints: oneHot("phase", "ready", node).DataPoints}
	metricdatatest.AssertAggregationsEqual(t, count, got["cluster.lifecycle.count"].Data, metricdatatest.IgnoreTimestamp())
	if _, ok := got["cluster.lifecycle.state"]; ok {
		t.Error("cluster.lifecycle.state exported; the group's gauge is nodedb.cluster.state")
	}
}

// Option values are checked by NewGroup as by New, and a member's
// attributes against the group's state key; errors name the option.
func TestInvalidGroupOptionsNameTheOption(t *testing.T) {
	g, _ := newGroup(t, otellifecycle.WithStateAttributeKey("phase"))
	cases := []struct {
		err  error
		want string
	}{
		{newGroupErr(otellifecycle.WithAttributes(attribute.String("state", "x"))), `WithAttributes: key "state" is the state attribute key`},
		// A member reports through the group's metrics: the options that
		// would shape its own are refused, by name, not ignored.
		{newTrackerErr(otellifecycle.WithGroup(g), otellifecycle.WithMeterProvider(sdkmetric.NewMeterProvider()),
			otellifecycle.WithMetricName("member.state"), otellifecycle.WithDetailedMetrics()),
			"WithGroup: a member reports through its Group's metrics, so WithMeterProvider, WithMetricName, WithDetailedMetrics would have no effect: give them to NewGroup"},
		{newTrackerErr(otellifecycle.WithGroup(g), otellifecycle.WithStateAttributeKey("k"), otellifecycle.WithStatusMetric()),
			"so WithStateAttributeKey, WithStatusMetric would have no effect"},
		{newGroupErr(otellifecycle.WithMetricName("9lives")), "WithMetricName"},
		{newGroupErr(otellifecycle.WithStateAttributeKey("")), "WithStateAttributeKey"},
		{newTrackerErr(otellifecycle.WithGroup(g), otellifecycle.WithAttributes(attribute.String("phase", "x"))), `WithAttributes: key "phase" is the state attribute key`},
		{newTrackerErr(otellifecycle.WithGroup(nil)), "WithGroup: group is nil"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), "otellifecycle: ") || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
}

func newGroupErr(opts ...otellifecycle.GroupOption) error {
	g, err := otellifecycle.NewGroup(opts...)
	if g != nil {
		_ = g.Close()
	}
	return err
}

func newTrackerErr(opts ...otellifecycle.Option) error {
	tr, err := otellifecycle.New(append([]otellifecycle.Option{otellifecycle.WithLogger(quiet)}, opts...)...)
	if tr != nil {
		_ = tr.Close()
	}
	return err
}

// Many trackers transitioning while collections run: every tracker is
// one-hot in every collection, and the aggregate is exact at the end.
func TestGroupCollectionsNeverSeeATornTracker(t *testing.T) {
	ctx := t.Context()
	const trackers, goroutines, each = 64, 8, 2000
	g, reader := newGroup(t)
	var ts []*otellifecycle.Tracker
	for i := range trackers {
		ts = append(ts, shard(t, g, i))
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ones := map[int64]int{}
			for _, dp := range collect(t, reader)["cluster.lifecycle.state"].Data.(metricdata.Gauge[int64]).DataPoints {
				v, _ := dp.Attributes.Value("shard")
				ones[v.AsInt64()] += int(dp.Value)
			}
			for i := range trackers {
				if ones[int64(i)] != 1 {
					t.Errorf("shard %d has %d labels at 1", i, ones[int64(i)])
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_ = ts[(w*7+i)%trackers].Set(ctx, cycle[i%len(cycle)])
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	counts := countPoints(t, collect(t, reader))
	var total int64
	want := map[string]int64{}
	for _, tr := range ts {
		want[tr.Current().Label()]++
	}
	for label, n := range counts {
		total += n
		if n != want[label] {
			t.Fatalf("aggregate %s = %d, trackers say %d (%v)", label, n, want[label], counts)
		}
	}
	if total != trackers {
		t.Fatalf("aggregate totals %d trackers, want %d", total, trackers)
	}
}

// A tracker per vshard (an aggregate-only group, WithHistory(0), one
// attribute) holds at most 512 bytes of heap, so a million fit in 512 MiB:
// with noop tracer and logger providers, with the global providers left as
// they are (the default), and with an SDK TracerProvider set globally,
// because members of an aggregate-only group keep no spans.
// BenchmarkMillionTrackers measures the million itself.
func TestAVshardTrackerHoldsAtMost512Bytes(t *testing.T) {
	for _, providers := range []string{"noop", "global", "global-sdk-tracer"} {
		t.Run(providers, func(t *testing.T) {
			if providers == "noop" {
				vshardHeap(t, providers)
				return
			}
			// The global providers are the process's: measure them in a
			// process of their own, untouched by the other tests.
			cmd := exec.Command(os.Args[0], "-test.run=^TestVshardHeapChild$", "-test.v")
			cmd.Env = append(os.Environ(), "LIFECYCLE_VSHARD_PROVIDERS="+providers)
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("the child process failed: %v", err)
			}
		})
	}
}

// TestVshardHeapChild is TestAVshardTrackerHoldsAtMost512Bytes's child
// process, which measures with the global providers.
func TestVshardHeapChild(t *testing.T) {
	providers := os.Getenv("LIFECYCLE_VSHARD_PROVIDERS")
	if providers == "" {
		t.Skip("run by TestAVshardTrackerHoldsAtMost512Bytes")
	}
	if providers == "global-sdk-tracer" {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
		otel.SetTracerProvider(tp)
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	}
	vshardHeap(t, providers)
}

// vshardHeap measures 20,000 vshard trackers' heap.
func vshardHeap(t *testing.T, providers string) {
	ctx := t.Context()
	g, _ := newGroup(t, otellifecycle.WithoutTrackerSeries())
	const n = 20_000
	ts := make([]*otellifecycle.Tracker, n)
	before := heapAlloc()
	for i := range ts {
		opts := []otellifecycle.Option{otellifecycle.WithLogger(quiet), otellifecycle.WithGroup(g), otellifecycle.WithHistory(0),
			otellifecycle.WithAttributes(attribute.Int("vshard", i))}
		if providers == "noop" {
			opts = append(opts, otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()), otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()))
		}
		tr, err := otellifecycle.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		tr.ToJoining(ctx, 0)
		tr.ToReady(ctx, 3)
		ts[i] = tr
	}
	per := float64(int64(heapAlloc())-int64(before)) / n
	t.Logf("%s providers: %.0f B per tracker", providers, per)
	if per > 512 {
		t.Errorf("%s providers: a vshard tracker holds %.0f B of heap, want at most 512", providers, per)
	}
	for _, tr := range ts {
		_ = tr.Close()
	}
}

// A transition of such a tracker allocates at most twice (its new
// snapshot, and a Detail text that is not one of the prebuilt ones).
func TestAVshardTransitionAllocatesAtMostTwice(t *testing.T) {
	ctx := t.Context()
	g, _ := newGroup(t, otellifecycle.WithoutTrackerSeries())
	tr, err := otellifecycle.New(otellifecycle.WithLogger(quiet), otellifecycle.WithGroup(g), otellifecycle.WithHistory(0),
		otellifecycle.WithTracerProvider(tracenoop.NewTracerProvider()), otellifecycle.WithLoggerProvider(lognoop.NewLoggerProvider()),
		otellifecycle.WithAttributes(attribute.Int("vshard", 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	states := []otellifecycle.State{otellifecycle.JoiningState(1), otellifecycle.FailedState("seeds down"),
		otellifecycle.ReadyState(3), otellifecycle.DrainingState(), otellifecycle.StoppingState(), otellifecycle.RestartingState()}
	for _, s := range states { // every pair's attributes are built once, on first sight
		_ = tr.Set(ctx, s)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { _ = tr.Set(ctx, states[i%len(states)]); i++ }); n > 2 {
		t.Errorf("a transition allocates %v times, want at most 2", n)
	}
}

func TestATrackerTellsItsMeterProviderAndAttributes(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	node := attribute.String("node.id", "n1")
	alone := newTracker(t, otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(node))
	if alone.MeterProvider() != mp {
		t.Fatalf("a standalone tracker's MeterProvider is %v, want its WithMeterProvider", alone.MeterProvider())
	}
	if got := alone.Attributes(); len(got) != 1 || got[0] != node {
		t.Fatalf("Attributes = %v, want [%v]", got, node)
	}
	alone.Attributes()[0] = attribute.String("node.id", "changed") // a copy: the tracker keeps its own
	if got := alone.Attributes(); got[0] != node {
		t.Fatalf("Attributes changed through a returned slice: %v", got)
	}

	g, err := otellifecycle.NewGroup(otellifecycle.WithMeterProvider(mp), otellifecycle.WithAttributes(node))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	member := shard(t, g, 7)
	if member.MeterProvider() != mp {
		t.Fatalf("a member's MeterProvider is %v, want its Group's", member.MeterProvider())
	}
	if got := member.Attributes(); len(got) != 2 || got[0] != node || got[1] != attribute.Int("shard", 7) {
		t.Fatalf("a member's Attributes = %v, want the Group's then its own", got)
	}
}

// Members of an aggregate-only group keep no spans, unless WithMemberSpans;
// members of a group with per-tracker series trace as standalone trackers.
func TestAggregateOnlyMembersTraceOnlyWithMemberSpans(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name  string
		opts  []otellifecycle.GroupOption
		spans bool
	}{
		{"aggregate only", []otellifecycle.GroupOption{otellifecycle.WithoutTrackerSeries()}, false},
		{"aggregate only, WithMemberSpans", []otellifecycle.GroupOption{otellifecycle.WithoutTrackerSeries(), otellifecycle.WithMemberSpans()}, true},
		{"per-tracker series", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, _ := newGroup(t, c.opts...)
			tr, rec, _ := traceTracker(t, otellifecycle.WithGroup(g))
			tr.ToJoining(ctx, 0)
			tr.ToReady(ctx, 3)
			if got := len(rec.Ended()) + len(rec.Started()); (got > 0) != c.spans {
				t.Fatalf("%d spans started or ended, want spans: %v", got, c.spans)
			}
		})
	}
}

func TestAGroupTakesNoMemberOnceClosed(t *testing.T) {
	g, reader := newGroup(t)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := newTrackerErr(otellifecycle.WithGroup(g)); !errors.Is(err, otellifecycle.ErrGroupClosed) {
		t.Fatalf("New WithGroup of a closed group = %v, want ErrGroupClosed", err)
	}
	if g.Len() != 0 || len(collect(t, reader)) != 0 {
		t.Fatalf("a closed group counts %d members and reports %d metrics", g.Len(), len(collect(t, reader)))
	}
}
