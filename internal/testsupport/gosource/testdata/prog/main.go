package main

import (
	"flag"
	"net/http"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	fs := flag.NewFlagSet("prog", flag.ExitOnError)
	fs.String("listen", ":8080", "")
	fs.Bool("bootstrap", false, "")
	fs.Duration("drain-delay", 0, "")
	var n int
	fs.IntVar(&n, "workers", 1, "")
	fs.Func("seed", "", func(string) error { return nil })
	fs.BoolFunc("verbose", "", func(string) error { return nil })

	other := flag.NewFlagSet("prog other", flag.ExitOnError)
	other.String("port", "", "") // another FlagSet: not the program's command line

	mux := http.NewServeMux()
	mux.Handle("/readyz", nil)
	mux.HandleFunc("POST /cluster/join", nil)
	mux.HandleFunc("GET example.com/status", nil)
	healthpb.RegisterHealthServer(grpc.NewServer(), nil)
	_ = time.Second
}
