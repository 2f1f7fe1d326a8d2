//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// panelQuery is one query of the rendered dashboard.
type panelQuery struct {
	panel, expr string
}

// dashboardQueries are every query of the dashboard the example ships
// (rendered from the mixin), its Grafana variables given the values a
// viewer of the whole run would have: every job and instance, the run as
// the time range, and the example's 15 s scrape as the interval.
func dashboardQueries(t *testing.T, example string, run time.Duration) []panelQuery {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(example, "grafana", "dashboards", "cluster-lifecycle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(
		"$job", ".+", "$instance", ".+", "$raft_job", ".+",
		"$__rate_interval", "1m", "$__interval", "15s",
		"$__range", fmt.Sprintf("%ds", int(run.Seconds())+1),
	)
	var out []panelQuery
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, panelQuery{panel: p.Title, expr: vars.Replace(tg.Expr)})
		}
	}
	if len(out) < 10 {
		t.Fatalf("the dashboard has only %d queries", len(out))
	}
	return out
}

// panelExpr is the first query of the panel titled title.
func panelExpr(t *testing.T, qs []panelQuery, title string) string {
	t.Helper()
	for _, q := range qs {
		if q.panel == title {
			return q.expr
		}
	}
	t.Fatalf("the dashboard has no panel %q", title)
	return ""
}
