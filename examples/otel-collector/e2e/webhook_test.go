//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// webhook is the receiver of Alertmanager's webhook_configs: it records
// every alert of every notification, with the time it arrived.
type webhook struct {
	url string

	mu       sync.Mutex
	received []delivered
}

// delivered is one alert of a notification (Alertmanager's webhook
// payload, version 4).
type delivered struct {
	at          time.Time
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webhook{url: "http://" + ln.Addr().String() + "/alerts"}
	srv := &http.Server{Handler: http.HandlerFunc(w.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return w
}

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Version string      `json:"version"`
		Alerts  []delivered `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Version != "4" {
		http.Error(rw, "not an Alertmanager webhook payload (version 4)", http.StatusBadRequest)
		return
	}
	now := time.Now()
	w.mu.Lock()
	for _, a := range body.Alerts {
		a.at = now
		w.received = append(w.received, a)
	}
	w.mu.Unlock()
}

// first is the first firing alert received whose labels include want.
func (w *webhook) first(want map[string]string) (delivered, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.received {
		if a.Status != "firing" {
			continue
		}
		match := true
		for k, v := range want {
			match = match && a.Labels[k] == v
		}
		if match {
			return a, true
		}
	}
	return delivered{}, false
}
