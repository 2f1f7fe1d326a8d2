package mixin_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lifecyclekit/lifecycle/mixin"
)

// configs are the deployments every test renders: the mixin's defaults,
// the example stack's, and the two UTF-8 shapes.
var configs = []string{
	"mixin/testdata/default.jsonnet",
	"examples/otel-collector/mixin.jsonnet",
	"mixin/testdata/utf8.jsonnet",
	"mixin/testdata/utf8-status.jsonnet",
}

func render(t *testing.T, config string) map[string][]byte {
	t.Helper()
	files, err := mixin.Render("..", mixin.Output{Config: config, Alerts: "alerts.yml", Dashboards: "dashboards"})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every dashboard decodes strictly into the Grafana Foundation SDK's
// dashboard model (no unknown field anywhere, panel options and queries
// checked by their plugins' types) and passes its validation.
func TestDashboardsPassTheFoundationSDKsStrictValidation(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, config := range configs {
		t.Run(filepath.Base(config), func(t *testing.T) {
			n := 0
			for path, raw := range render(t, config) {
				if !strings.HasPrefix(path, "dashboards/") {
					continue
				}
				n++
				// The classic dashboard model, which Grafana's file
				// provisioning and every Grafana in use load; the SDK
				// deprecates it in favour of its v2 resource.
				//lint:ignore SA1019 the mixin renders the classic model on purpose
				var d dashboard.Dashboard
				if err := valid(d.UnmarshalJSONStrict(raw)); err != nil {
					t.Errorf("%s: strict decoding: %v", path, err)
					continue
				}
				if err := valid(d.Validate()); err != nil {
					t.Errorf("%s: validation: %v", path, err)
				}
				if d.Templating.List == nil {
					t.Errorf("%s: no template variables", path)
				}
			}
			if n == 0 {
				t.Fatal("no dashboard rendered")
			}
		})
	}
}

// valid reads the SDK's result: UnmarshalJSONStrict (and Validate, for
// some types) returns a cog.BuildErrors that is empty but not nil when
// nothing failed.
func valid(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}
