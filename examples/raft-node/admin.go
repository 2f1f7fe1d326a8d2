package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The admin endpoints change a node's state without authentication, so
// they are off unless -admin names an address, and that address must be a
// loopback one: only someone on the node's own host can use them.
//
//	POST /admin/fail     body: the reason   Failed{reason} until recover (lifecycleraft's Observer.Fail)
//	POST /admin/recover                     back to what Raft says (Observer.Recover)
//
// To crash a node, kill its process (kill -9): Raft's own failure handling
// is what a crash should exercise.

// loopbackOnly refuses an admin address that is not loopback.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("-admin %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-admin %q: the admin endpoints are unauthenticated and bind to loopback only (127.0.0.1, ::1 or localhost)", hostport)
	}
	return nil
}

func (n *node) serveAdmin() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/fail", func(w http.ResponseWriter, r *http.Request) {
		reason, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.obs.Fail(r.Context(), strings.TrimSpace(string(reason)))
		n.adminReply(w)
	})
	mux.HandleFunc("POST /admin/recover", func(w http.ResponseWriter, r *http.Request) {
		n.obs.Recover(r.Context())
		n.adminReply(w)
	})
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.admin.Serve(n.adminLis) }()
}

// adminReply answers with the node's lifecycle as it is now.
func (n *node) adminReply(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := n.tracker.Current().MarshalJSON()
	_, _ = w.Write(append(b, '\n'))
}
