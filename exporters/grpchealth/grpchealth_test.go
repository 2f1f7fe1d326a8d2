package grpchealth_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lifecyclekit/lifecycle/exporters/grpchealth"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
)

// serve stands up a real gRPC server on 127.0.0.1 with hs registered as
// its health service, and returns its address and a client for it.
func serve(t *testing.T, hs *health.Server) (string, healthpb.HealthClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-done
	})
	return lis.Addr().String(), healthpb.NewHealthClient(conn)
}

// check is one Check RPC, bounded in time.
func check(t *testing.T, c healthpb.HealthClient, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("Check(%q): %v", service, err)
	}
	return resp.GetStatus()
}

func newTracker(t *testing.T, sinks ...otellifecycle.Sink) *otellifecycle.Tracker {
	t.Helper()
	tr, err := otellifecycle.New(otellifecycle.WithSinks(sinks...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// grpc's own health server reports "" as SERVING from its creation; the
// sink's construction alone must correct that, before any tracker exists.
func TestConstructionReportsNotServing(t *testing.T) {
	hs := health.NewServer()
	_, c := serve(t, hs)
	if got := check(t, c, ""); got != serving {
		t.Fatalf("grpc's default for \"\" is %v, want SERVING (the lie this sink exists to correct)", got)
	}
	grpchealth.New(hs)
	if got := check(t, c, ""); got != notServing {
		t.Fatalf("after New: Check(\"\") = %v, want NOT_SERVING", got)
	}

	named := health.NewServer()
	_, c = serve(t, named)
	grpchealth.New(named, "db.v1.Query", "db.v1.Admin")
	for _, svc := range []string{"db.v1.Query", "db.v1.Admin"} {
		if got := check(t, c, svc); got != notServing {
			t.Errorf("after New: Check(%q) = %v, want NOT_SERVING", svc, got)
		}
	}
	if got := check(t, c, ""); got != serving {
		t.Errorf("New with names changed \"\" to %v; it is not the sink's", got)
	}
}

// Every phase maps to the status of the package documentation's table.
func TestEveryPhaseMapsToItsStatus(t *testing.T) {
	want := map[otellifecycle.Phase]healthpb.HealthCheckResponse_ServingStatus{
		otellifecycle.Starting:      notServing,
		otellifecycle.Restarting:    notServing,
		otellifecycle.Bootstrapping: notServing,
		otellifecycle.Joining:       notServing,
		otellifecycle.Ready:         serving,
		otellifecycle.Draining:      notServing,
		otellifecycle.Failed:        notServing,
		otellifecycle.Stopping:      notServing,
	}
	for _, p := range otellifecycle.Phases() {
		w, ok := want[p]
		if !ok {
			t.Fatalf("phase %q has no expected status: update this test and the table in doc.go", p)
		}
		for _, from := range []otellifecycle.Phase{otellifecycle.Ready, otellifecycle.Starting} {
			hs := health.NewServer()
			_, c := serve(t, hs)
			sink := grpchealth.New(hs, "", "svc")
			_ = sink.Notify(t.Context(), otellifecycle.Transition{Seq: 1, To: otellifecycle.State{Phase: from}})
			if err := sink.Notify(t.Context(), otellifecycle.Transition{Seq: 2, To: otellifecycle.State{Phase: p}}); err != nil {
				t.Errorf("Notify(%s): %v", p, err)
			}
			for _, svc := range []string{"", "svc"} {
				if got := check(t, c, svc); got != w {
					t.Errorf("%s → %s: Check(%q) = %v, want %v", from, p, svc, got, w)
				}
			}
		}
	}
}

// watch opens a Watch stream on service and forwards every status it gets.
func watch(t *testing.T, c healthpb.HealthClient, service string) <-chan healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan healthpb.HealthCheckResponse_ServingStatus, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			out <- resp.GetStatus()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out
}

// next returns the next status the stream sends, failing after 5s.
func next(t *testing.T, statuses <-chan healthpb.HealthCheckResponse_ServingStatus) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	select {
	case s, ok := <-statuses:
		if !ok {
			t.Fatal("Watch stream ended")
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("Watch stream sent nothing for 5s")
	}
	return 0
}

// A Watch stream (what a client's load balancer uses) sees a joining node
// become SERVING and turn NOT_SERVING again as soon as it drains.
func TestWatchSeesJoinReadyDrainInOrder(t *testing.T) {
	hs := health.NewServer()
	_, c := serve(t, hs)
	tr := newTracker(t, grpchealth.New(hs))
	statuses := watch(t, c, "")
	if got := next(t, statuses); got != notServing {
		t.Fatalf("first status on Watch = %v, want NOT_SERVING (the tracker is Starting)", got)
	}

	tr.ToJoining(t.Context(), 0)
	tr.ToReady(t.Context(), 3)
	// Joining sets NOT_SERVING again, which Watch does not resend; the next
	// status sent must be Ready's.
	if got := next(t, statuses); got != serving {
		t.Fatalf("after Joining → Ready: Watch sent %v, want SERVING", got)
	}
	tr.ToDraining(t.Context())
	if got := next(t, statuses); got != notServing {
		t.Fatalf("after Draining: Watch sent %v, want NOT_SERVING", got)
	}
}

// However fast the lifecycle flaps, a watcher may miss intermediate
// statuses (grpc keeps only the latest for it) but never ends on a wrong
// one, and never sees a status the lifecycle did not go through.
func TestWatchEndsOnTheTrackersStatusAfterFlapping(t *testing.T) {
	for _, last := range []otellifecycle.Phase{otellifecycle.Ready, otellifecycle.Draining} {
		t.Run(string(last), func(t *testing.T) {
			hs := health.NewServer()
			_, c := serve(t, hs)
			tr := newTracker(t, grpchealth.New(hs))
			statuses := watch(t, c, "")
			if got := next(t, statuses); got != notServing {
				t.Fatalf("first status on Watch = %v, want NOT_SERVING", got)
			}
			for range 200 {
				tr.ToReady(t.Context(), 3)
				tr.ToDraining(t.Context())
			}
			want := notServing
			if last == otellifecycle.Ready {
				tr.ToReady(t.Context(), 3)
				want = serving
			}
			if err := tr.Close(); err != nil { // waits for the sink's queue
				t.Fatal(err)
			}
			if got := check(t, c, ""); got != want {
				t.Fatalf("Check after the flapping = %v, want %v", got, want)
			}
			// Read until the stream shows want and stays quiet for 200ms.
			got, prev := notServing, notServing
			deadline := time.After(5 * time.Second)
			for quiet := false; !quiet; {
				select {
				case s := <-statuses:
					if s != serving && s != notServing {
						t.Fatalf("Watch sent %v", s)
					}
					if s == prev {
						t.Fatalf("Watch sent %v twice in a row", s)
					}
					got, prev = s, s
				case <-time.After(200 * time.Millisecond):
					quiet = got == want
				case <-deadline:
					t.Fatalf("Watch ended on %v, want %v", got, want)
				}
			}
		})
	}
}

// Stopping freezes the health server (grpc's Shutdown); the service itself
// must Resume it to serve again, and the sink's transitions after that set
// the true status again. (Notify is called directly, so each step is done
// when it returns.)
func TestStoppingIsFinalUntilTheServiceResumes(t *testing.T) {
	hs := health.NewServer()
	_, c := serve(t, hs)
	sink := grpchealth.New(hs, "", "svc")
	to := func(p otellifecycle.Phase) {
		t.Helper()
		if err := sink.Notify(t.Context(), otellifecycle.Transition{To: otellifecycle.State{Phase: p}}); err != nil {
			t.Fatalf("Notify(%s): %v", p, err)
		}
	}
	expect := func(when string, want healthpb.HealthCheckResponse_ServingStatus, services ...string) {
		t.Helper()
		for _, svc := range services {
			if got := check(t, c, svc); got != want {
				t.Errorf("%s: Check(%q) = %v, want %v", when, svc, got, want)
			}
		}
	}
	to(otellifecycle.Ready)
	hs.SetServingStatus("other", serving) // a service the sink was not given
	expect("Ready", serving, "", "svc", "other")

	to(otellifecycle.Stopping)
	expect("Stopping (Shutdown covers every service)", notServing, "", "svc", "other")
	to(otellifecycle.Ready)
	expect("Ready after Stopping, without Resume (frozen)", notServing, "", "svc", "other")

	hs.Resume()
	// grpc's Resume makes every service SERVING at once, whatever the
	// tracker says (the package documentation warns of it) …
	expect("grpc's Resume", serving, "", "svc", "other")
	// … and the sink's next transition sets the truth again.
	to(otellifecycle.Starting)
	expect("Starting after Resume", notServing, "", "svc")
	to(otellifecycle.Ready)
	expect("Ready after Resume", serving, "", "svc")
}

func TestNewPanicsOnANilServer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(nil) did not panic")
		}
	}()
	grpchealth.New(nil)
}
