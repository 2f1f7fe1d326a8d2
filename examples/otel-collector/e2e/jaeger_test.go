//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	Logs          []struct {
		Timestamp int64 `json:"timestamp"` // µs since the epoch
		Fields    []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"fields"`
	} `json:"logs"`
}

type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

func (tr jaegerTrace) instance(processID string) string {
	for _, tag := range tr.Processes[processID].Tags {
		if tag.Key == "service.instance.id" {
			return fmt.Sprint(tag.Value)
		}
	}
	return ""
}

func jaegerTraces(base, service string) ([]jaegerTrace, error) {
	return jaegerSearch(base, url.Values{"service": {service}, "limit": {"1000"}, "lookback": {"1h"}})
}

// jaegerSearch runs a search of Jaeger's query API (base is its URL).
func jaegerSearch(base string, q url.Values) ([]jaegerTrace, error) {
	res, err := http.Get(base + "/api/traces?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Data, nil
}

// checkJaeger asserts that Jaeger holds, for every node, lifecycle
// episodes with phase spans and transition events (span events come back
// as logs), that one join trace crosses two nodes, and that the node
// restarted after the failover has its Restarting phase span.
func checkJaeger(t *testing.T, base string, instances []string, restarted string) {
	t.Helper()
	testsupport.Poll(t, "Jaeger has every node's lifecycle", time.Minute, pollEvery, func() error {
		res, err := http.Get(base + "/api/services")
		if err != nil {
			return err
		}
		var svc struct {
			Data []string `json:"data"`
		}
		err = json.NewDecoder(res.Body).Decode(&svc)
		res.Body.Close()
		if err != nil {
			return err
		}
		if !slices.Contains(svc.Data, "raft-node") {
			return fmt.Errorf("services %v", svc.Data)
		}
		traces, err := jaegerTraces(base, "raft-node")
		if err != nil {
			return err
		}
		episodes := map[string]bool{}
		phases := map[string]bool{}
		events := map[string]bool{}
		crossNode := false
		restarting := false
		for _, tr := range traces {
			seen := map[string]bool{}
			for _, s := range tr.Spans {
				inst := tr.instance(s.ProcessID)
				seen[inst] = true
				switch s.OperationName {
				case "cluster.lifecycle":
					episodes[inst] = true
				case "cluster.lifecycle.joining", "cluster.lifecycle.starting", "cluster.lifecycle.bootstrapping":
					phases[inst] = true
				case "cluster.lifecycle.restarting":
					phases[inst] = true
					restarting = restarting || inst == restarted
				}
				for _, l := range s.Logs {
					for _, f := range l.Fields {
						if f.Key == "event" && f.Value == "cluster.lifecycle.transition" {
							events[inst] = true
						}
					}
				}
			}
			crossNode = crossNode || len(seen) > 1 && slices.ContainsFunc(tr.Spans, func(s jaegerSpan) bool {
				return s.OperationName == "cluster.lifecycle.joining"
			})
		}
		for _, inst := range instances {
			if !episodes[inst] || !phases[inst] || !events[inst] {
				return fmt.Errorf("node %s: episode %v, phase spans %v, transition events %v", inst, episodes[inst], phases[inst], events[inst])
			}
		}
		if !crossNode {
			return fmt.Errorf("no join trace crosses two nodes among %d traces", len(traces))
		}
		if !restarting {
			return fmt.Errorf("no cluster.lifecycle.restarting span of %s among %d traces", restarted, len(traces))
		}
		return nil
	})
}
