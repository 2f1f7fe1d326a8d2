package grpchealth_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lifecyclekit/lifecycle/exporters/grpchealth"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// A node's gRPC server reports its cluster lifecycle to health checkers.
func Example() {
	ctx := context.Background()
	hs := health.NewServer()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	tracker, err := otellifecycle.New(otellifecycle.WithSinks(grpchealth.New(hs)))
	if err != nil {
		log.Fatal(err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	status := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, _ := hs.Check(ctx, &healthpb.HealthCheckRequest{})
		return resp.GetStatus()
	}
	fmt.Println("starting:", status())

	tracker.ToJoining(ctx, 0)
	tracker.ToReady(ctx, 3)                 // SERVING, as soon as the sink has it
	tracker.ToDraining(ctx)                 // NOT_SERVING before the node stops taking work
	tracker.ToStopping(ctx)                 // the health server shuts down
	if err := tracker.Close(); err != nil { // Close waits for the sink
		log.Fatal(err)
	}
	fmt.Println("stopped:", status())
	// Output:
	// starting: NOT_SERVING
	// stopped: NOT_SERVING
}
