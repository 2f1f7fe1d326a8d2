package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// quietOTel keeps every exporter off, whatever the environment says.
func quietOTel(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
		t.Setenv(k, "none")
	}
}

// One node run as its command line runs it, bound to every interface as in
// a pod (Raft on 0.0.0.0, advertised by name), with gRPC health and the
// admin endpoints: it bootstraps as the lowest seed, every reader says
// Ready, an admin failure shows everywhere until recover, and SIGTERM's
// order holds: Draining (readiness off, gRPC NOT_SERVING) while HTTP still
// serves for -drain-delay, then Stopping, and a clean return.
func TestSingleNodeCommandLine(t *testing.T) {
	quietOTel(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	raftPort := freePort(t)
	grpcAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	adminAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := filepath.Join(t.TempDir(), "n1")
	done := make(chan error, 1)
	go func() {
		done <- single(ctx, []string{
			"-id", "n1", "-listen", httpAddr,
			"-raft", fmt.Sprintf("0.0.0.0:%d", raftPort), "-raft-advertise", fmt.Sprintf("localhost:%d", raftPort),
			"-seeds", httpAddr + ",127.0.0.1:99999", "-data", data, // the lowest seed: it bootstraps
			"-grpc", grpcAddr, "-admin", adminAddr, "-drain-delay", "1s",
		})
	}()
	base := "http://" + httpAddr

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	serving := func() healthpb.HealthCheckResponse_ServingStatus {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		res, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return res.Status
	}
	status := func(path string) int {
		res, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	expect := func(what string, cond func() bool) {
		t.Helper()
		testsupport.Poll(t, what, waitFor, 20*time.Millisecond, func() error {
			select {
			case err := <-done:
				done <- err
				return fmt.Errorf("the node returned: %v", err)
			default:
			}
			if !cond() {
				return fmt.Errorf("lifecycle %s", lifecycle(base))
			}
			return nil
		})
	}

	expect("Ready{1}", func() bool { return lifecycle(base) == `{"phase":"ready","nodes":1}` })
	for _, p := range []string{"/readyz", "/livez", "/startupz"} {
		if got := status(p); got != http.StatusOK {
			t.Errorf("%s: %d when Ready", p, got)
		}
	}
	if got := serving(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health %v when Ready", got)
	}

	adminPost(t, "http://"+adminAddr+"/admin/fail", "disk full\nphase=ready")
	expect("Failed by the admin endpoint", func() bool {
		return lifecycle(base) == `{"phase":"failed","reason":"disk full phase=ready"}`
	})
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d when Failed", got)
	}
	if got := status("/startupz"); got != http.StatusOK {
		t.Errorf("/startupz %d when Failed after a Ready: a startup probe passes for good", got)
	}
	expect("gRPC NOT_SERVING when Failed", func() bool { return serving() == healthpb.HealthCheckResponse_NOT_SERVING })
	adminPost(t, "http://"+adminAddr+"/admin/recover", "")
	expect("Ready{1} after recover", func() bool { return lifecycle(base) == `{"phase":"ready","nodes":1}` })
	expect("gRPC SERVING after recover", func() bool { return serving() == healthpb.HealthCheckResponse_SERVING })

	cancel() // what SIGTERM does
	expect("Draining, HTTP still serving", func() bool { return lifecycle(base) == `{"phase":"draining"}` })
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d while Draining", got)
	}
	if got := serving(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health %v while Draining", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("the node did not stop")
	}
	if status("/readyz") != 0 {
		t.Error("HTTP still answers after the node stopped")
	}

	// The cluster's configuration, as the node left it on disk, holds the
	// advertised name, not the bound 0.0.0.0.
	if got, want := raftServers(t, data), fmt.Sprintf("localhost:%d", raftPort); len(got) != 1 || got[0] != want {
		t.Errorf("Raft configuration %v, want [%s]", got, want)
	}
}

// lifecycle is the node's /cluster/status lifecycle object, "" when it
// does not answer.
func lifecycle(base string) string {
	res, err := http.Get(base + "/cluster/status")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var doc struct {
		Lifecycle json.RawMessage `json:"lifecycle"`
	}
	if json.NewDecoder(res.Body).Decode(&doc) != nil {
		return ""
	}
	return string(doc.Lifecycle)
}

// raftServers are the addresses in the Raft configuration stored in the
// data directory of a node that has stopped, read as Raft would read it on
// a restart.
func raftServers(t *testing.T, dir string) []string {
	t.Helper()
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	snaps, err := raft.NewFileSnapshotStore(dir, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	cfg, err := raft.GetConfiguration(raftConfig("n1", defaultTiming), fsm{}, bolt, bolt, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, string(s.Address))
	}
	return out
}

func adminPost(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, res.Status)
	}
}

// The admin endpoints are unauthenticated: any address but loopback is
// refused before anything starts. Binding Raft to every interface without
// saying which address to advertise is refused with the flag that fixes it.
func TestSingleNodeRefusesUnsafeAddresses(t *testing.T) {
	quietOTel(t)
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"admin on every interface", []string{"-admin", "0.0.0.0:7999"}, []string{"-admin", "loopback"}},
		{"admin on a host name", []string{"-admin", "example.com:7999"}, []string{"-admin", "loopback"}},
		{"raft on 0.0.0.0 without -raft-advertise", []string{"-raft", fmt.Sprintf("0.0.0.0:%d", freePort(t))}, []string{"-raft-advertise"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			args := append([]string{
				"-id", "n1", "-listen", "127.0.0.1:0", "-raft", "127.0.0.1:0",
				"-data", filepath.Join(t.TempDir(), "n1"),
			}, tc.args...)
			err := single(ctx, args)
			if err == nil {
				t.Fatal("started")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Telemetry that cannot be delivered is not the node's failure: with every
// signal going over OTLP to an address that refuses, the node still stops
// cleanly: single returns nil, so the process exits 0 on SIGTERM.
func TestUndeliveredTelemetryDoesNotFailTheStop(t *testing.T) {
	refused := "127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
		t.Setenv(k, "otlp")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+refused)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- single(ctx, []string{
			"-id", "n1", "-listen", httpAddr, "-raft", "127.0.0.1:" + strconv.Itoa(freePort(t)),
			"-data", filepath.Join(t.TempDir(), "n1"), "-bootstrap",
		})
	}()
	testsupport.Poll(t, "Ready{1}", waitFor, 20*time.Millisecond, func() error {
		if got := lifecycle("http://" + httpAddr); got != `{"phase":"ready","nodes":1}` {
			return fmt.Errorf("lifecycle %s", got)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the node's stop failed on its telemetry: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the node did not stop")
	}
}
