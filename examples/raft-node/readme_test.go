package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lifecyclekit/lifecycle/exporters/otelsetup"
	"github.com/lifecyclekit/lifecycle/exporters/promexport"
	"github.com/lifecyclekit/lifecycle/exporters/sdnotify"
	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// serveRaftNode is the README's wiring ("Wiring it to real destinations")
// with the README's engine lines ("Cluster engines") in place of its
// tracker.ToJoining and tracker.ToReady lines, as the README says to
// combine them, and its server on addr instead of ":8080" (tests listen on
// loopback only). r is the node's Raft, made from conf on transport.
func serveRaftNode(ctx context.Context, addr string, r *raft.Raft, conf *raft.Config, transport raft.Transport,
	bootstrap bool, askSeedToAddMe func(context.Context) error) error {
	// readme:begin
	prom, err := promexport.New()
	if err != nil {
		return err
	}
	p, err := otelsetup.Setup(ctx, otelsetup.WithServiceName("nodedb"), otelsetup.WithPrometheus(prom))
	if err != nil {
		return err
	}
	defer p.Shutdown(ctx) // runs last: flushes and stops every exporter

	notify := sdnotify.New()
	tracker, err := otellifecycle.New(append(p.TrackerOptions(), otellifecycle.WithSinks(notify))...)
	if err != nil {
		return err
	}
	defer tracker.Close() // runs first: ends open spans, flushes the final state
	if _, err := notify.StartWatchdog(ctx, tracker.IsLive); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", prom.Handler())
	mux.Handle("/cluster/status", tracker.StatusHandler())
	mux.Handle("/readyz", tracker.ReadyHandler())
	mux.Handle("/livez", tracker.LiveHandler())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()

	obs, err := lifecycleraft.Observe(r, tracker, conf.LocalID) // before Bootstrap or Join
	if err != nil {
		return err
	}
	defer obs.Shutdown() // runs before tracker.Close: Stopping, then Raft shuts down
	if bootstrap {       // the first node of a new cluster: Bootstrapping, then Ready{1}
		err = obs.Bootstrap(ctx, raft.Configuration{Servers: []raft.Server{
			{ID: conf.LocalID, Address: transport.LocalAddr()},
		}})
	} else { // every other node: Joining{0}, Joining{1} …, then Ready{voters}
		err = obs.Join(ctx, askSeedToAddMe)
	}
	if err != nil {
		return err
	}

	stop, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	select {
	case <-stop.Done():
	case err = <-served:
	}
	tracker.ToStopping(ctx)
	return errors.Join(err, srv.Shutdown(ctx))
	// readme:end
}

// The README's wiring with its engine lines is serveRaftNode's body: the
// README says to put the engine lines in place of the wiring's
// tracker.ToJoining and tracker.ToReady lines, and this is that, byte for
// byte, but for the server's address.
func TestREADMESnippetsComposeIntoServeRaftNode(t *testing.T) {
	wiring := testsupport.READMEBlock(t, "../../README.md", "## Wiring it to real destinations")
	engine := testsupport.READMEBlock(t, "../../README.md", "## Cluster engines")
	var composed strings.Builder
	replaced := 0
	for line := range strings.Lines(wiring) {
		if strings.HasPrefix(line, "tracker.ToJoining(") || strings.HasPrefix(line, "tracker.ToReady(") {
			if replaced++; replaced == 1 {
				composed.WriteString(engine)
			}
			continue
		}
		composed.WriteString(line)
	}
	if replaced != 2 {
		t.Fatalf("the README's wiring has %d tracker.ToJoining and tracker.ToReady lines, want the two the engine lines replace", replaced)
	}
	addr := regexp.MustCompile(`Addr: "[^"]*"`)
	if n := len(addr.FindAllString(composed.String(), -1)); n != 1 {
		t.Fatalf("the README's wiring has %d server addresses, want one", n)
	}
	want := addr.ReplaceAllString(composed.String(), "Addr: addr")
	if got := testsupport.Marked(t, "readme_test.go", "readme"); got != want {
		t.Fatalf("serveRaftNode differs from the README's wiring with its engine lines; README:\n%s\ncode:\n%s", want, got)
	}
}

// A new user who follows the README exactly (its wiring, its engine lines)
// gets every instrument of the tracker and of lifecycleraft in /metrics,
// every series with the tracker's attributes: serveRaftNode runs a
// one-node Raft cluster, and its /metrics is scraped.
func TestREADMESnippetsPutEveryInstrumentInMetrics(t *testing.T) {
	quietOTel(t)                  // nothing leaves the process but /metrics
	t.Setenv("NOTIFY_SOCKET", "") // no systemd
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout, conf.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.LogOutput = io.Discard
	transport, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, fsm{}, store, store, raft.NewInmemSnapshotStore(), transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown().Error() })

	// What exists: every instrument a tracker and an Observer register, as
	// a ManualReader collects them from a second tracker on the same Raft.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	reference, err := otellifecycle.New(otellifecycle.WithMeterProvider(mp), otellifecycle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reference.Close() })
	refObs, err := lifecycleraft.Observe(r, reference, conf.LocalID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = refObs.Close() })

	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serveRaftNode(ctx, addr, r, conf, transport, true, nil) }()

	testsupport.WaitState(t, reference, "n1 Ready{1}", waitFor, func(s otellifecycle.State) bool { return s == otellifecycle.ReadyState(1) })
	instruments := instrumentNames(t, reader)
	client := &http.Client{Timeout: 5 * time.Second}
	var families map[string]*dto.MetricFamily
	testsupport.Poll(t, "every instrument in /metrics", waitFor, 50*time.Millisecond, func() error {
		families, err = scrape(client, "http://"+addr+"/metrics")
		if err != nil {
			return err
		}
		for _, name := range instruments {
			if family(families, name) == nil {
				return fmt.Errorf("no family for %s in %v", name, slices.Sorted(maps.Keys(families)))
			}
		}
		if v, ok := sample(families, "cluster_lifecycle_state", "state", "ready"); !ok || v != 1 {
			return fmt.Errorf("cluster_lifecycle_state{state=\"ready\"} is %v (%v), want 1", v, ok)
		}
		return nil
	})
	client.CloseIdleConnections()

	// The tracker's attributes are what its state gauge carries besides the
	// state; every series of every family carries exactly those.
	trackerAttrs := attributes(families["cluster_lifecycle_state"].GetMetric()[0])
	for _, name := range instruments {
		f := family(families, name)
		for _, m := range f.GetMetric() {
			if got := attributes(m); !maps.Equal(got, trackerAttrs) {
				t.Errorf("%s: a series with attributes %v, want the tracker's %v", f.GetName(), got, trackerAttrs)
			}
		}
	}
	for _, want := range []struct {
		family, key, value string
		v                  float64
	}{
		{"cluster_lifecycle_raft_leader", "", "", 1},
		{"cluster_lifecycle_raft_servers", "suffrage", "voter", 1},
		{"cluster_lifecycle_raft_servers", "suffrage", "nonvoter", 0},
		{"cluster_lifecycle_nodes", "", "", 1},
	} {
		if v, ok := sample(families, want.family, want.key, want.value); !ok || v != want.v {
			t.Errorf("%s{%s=%q} is %v (%v), want %v", want.family, want.key, want.value, v, ok, want.v)
		}
	}
	t.Logf("%d instruments, every one in /metrics with the tracker's attributes %v: %v", len(instruments), trackerAttrs, instruments)

	cancel()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("serveRaftNode: %v", err)
	}
	if r.State() != raft.Shutdown {
		t.Errorf("Raft is %v after serveRaftNode returned: obs.Shutdown did not run", r.State())
	}
}

// instrumentNames collects reader and returns the names of the
// instruments it reports, sorted.
func instrumentNames(t *testing.T, reader *sdkmetric.ManualReader) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otellifecycle.ScopeName && sm.Scope.Name != lifecycleraft.ScopeName {
			t.Fatalf("instruments of an unexpected scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("the reference tracker and Observer report no instrument")
	}
	slices.Sort(names)
	return names
}

// scrape reads a Prometheus text exposition into its families.
func scrape(client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(res.Body)
}

// family returns the Prometheus family of the OpenTelemetry instrument
// name: the name with underscores, and the suffix the exporter adds for a
// unit or a counter, if any.
func family(families map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	base := strings.ReplaceAll(name, ".", "_")
	for _, suffix := range []string{"", "_total", "_seconds", "_seconds_total", "_ratio"} {
		if f, ok := families[base+suffix]; ok {
			return f
		}
	}
	return nil
}

// sample returns the value of the first series of the named family whose
// label key is value (the first series when key is empty).
func sample(families map[string]*dto.MetricFamily, name, key, value string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if key != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == key && l.GetValue() == value
		}) {
			continue
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// ownLabels are the labels that tell series of one instrument apart, or
// that the exporter adds per scope: not the tracker's attributes.
var ownLabels = map[string]bool{"state": true, "from": true, "to": true, "suffrage": true}

// attributes returns a series' labels but its own and the scope's.
func attributes(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		if ownLabels[l.GetName()] || strings.HasPrefix(l.GetName(), "otel_scope_") {
			continue
		}
		out[l.GetName()] = l.GetValue()
	}
	return out
}
