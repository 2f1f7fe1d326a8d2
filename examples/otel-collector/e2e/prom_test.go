//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promAPI queries Prometheus's HTTP API.
type promAPI struct{ base string }

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

func (p promAPI) get(path string, params url.Values) ([]sample, error) {
	res, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("%s: %s", res.Status, bytes.TrimSpace(raw))
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s", body.Error)
	}
	return body.Data.Result, nil
}

func (p promAPI) query(q string) ([]sample, error) {
	return p.get("/api/v1/query", url.Values{"query": {q}})
}

func (p promAPI) queryRange(q string, from, to time.Time) ([]sample, error) {
	return p.get("/api/v1/query_range", url.Values{
		"query": {q},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix()+1, 10)},
		"step":  {"1"},
	})
}

// expect checks that q returns exactly n series.
func (p promAPI) expect(q string, n int) error {
	res, err := p.query(q)
	if err != nil {
		return err
	}
	if len(res) != n {
		return fmt.Errorf("%s: %d series, want %d: %v", q, len(res), n, res)
	}
	return nil
}

func anyValue(res []sample, want float64) bool {
	for _, s := range res {
		for _, v := range s.Values {
			if str, ok := v[1].(string); ok {
				if f, err := strconv.ParseFloat(str, 64); err == nil && f == want {
					return true
				}
			}
		}
	}
	return false
}

// value is the number of an instant query's sample.
func (s sample) value() float64 {
	if len(s.Value) != 2 {
		return 0
	}
	f, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return f
}

// run runs bin in dir and fails the test with its output if it fails.
func run(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// runOutput runs bin in dir and returns its output and error.
func runOutput(dir, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return string(out), err
}
