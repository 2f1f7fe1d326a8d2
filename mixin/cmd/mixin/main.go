// Command mixin renders the monitoring mixin into the files a deployment
// loads, or checks that they are current:
//
//	mixin -config examples/otel-collector/mixin.jsonnet \
//	      -alerts examples/otel-collector/alerts.yml \
//	      -dashboards examples/otel-collector/grafana/dashboards [-check]
//
// Paths are relative to -root (default: the working directory). With
// -check it writes nothing, lists the files that differ from a fresh
// render and exits 1 if there are any.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lifecyclekit/lifecycle/mixin"
)

func main() {
	var o mixin.Output
	root := flag.String("root", ".", "the folder the other paths are relative to")
	flag.StringVar(&o.Config, "config", "", "the jsonnet file: the mixin and the deployment's _config")
	flag.StringVar(&o.Alerts, "alerts", "", "where the alert rules go (YAML)")
	flag.StringVar(&o.Rules, "rules", "", "where recording rules go (YAML), if the mixin has any")
	flag.StringVar(&o.Dashboards, "dashboards", "", "the folder the dashboards go to (JSON)")
	check := flag.Bool("check", false, "write nothing; fail if a rendered file is not current")
	flag.Parse()
	if o.Config == "" || o.Alerts == "" || o.Dashboards == "" {
		fmt.Fprintln(os.Stderr, "mixin: -config, -alerts and -dashboards are required")
		flag.Usage()
		os.Exit(2)
	}
	if *check {
		stale, err := mixin.Check(*root, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if len(stale) > 0 {
			fmt.Fprintf(os.Stderr, "mixin: these files differ from a fresh render of %s (run make mixin):\n", o.Config)
			for _, f := range stale {
				fmt.Fprintln(os.Stderr, "  "+f)
			}
			os.Exit(1)
		}
		return
	}
	wrote, err := mixin.Write(*root, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range wrote {
		fmt.Println("wrote", f)
	}
}
