package compose_test

import (
	"context"
	"flag"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/gosource"
)

// Where things are, from this folder.
const (
	composeFile = "../docker-compose.yaml"
	exampleDir  = ".."       // examples/otel-collector: the configs
	repoRoot    = "../../.." // what the stack may bind-mount
	raftNodeDir = "../../raft-node"
)

// The scrape jobs of prometheus.yml (the collector) and
// prometheus-direct.yml (each node).
const (
	collectorJob = "otel-collector"
	nodesJob     = "raft-node"
)

// load reads a compose file as `docker compose` does: compose-go's loader
// with schema validation, interpolation, normalization and the consistency
// check (every service, volume and network named exists) on, paths
// resolved against the file's folder, and no engine. The environment is
// empty, not the test's, so the result does not depend on who runs it.
func load(ctx context.Context, file string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = false }),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

var loadRepoFile = sync.OnceValues(func() (*types.Project, error) {
	return load(context.Background(), composeFile)
})

// project is docker-compose.yaml as loaded by load, once for all tests
// (which only read it).
func project(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadRepoFile()
	if err != nil {
		t.Fatalf("%s does not load as docker compose would load it: %v", composeFile, err)
	}
	return p
}

func TestComposeFileLoadsAsDockerComposeWould(t *testing.T) {
	t.Parallel()
	p := project(t)
	want := []string{"alertmanager", "grafana", "jaeger", "node1", "node2", "node3", "otel-collector", "prometheus", "raft-node-build"}
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
}

// The loader is as strict as docker compose: each mutation of the real
// file is rejected, so TestComposeFileLoadsAsDockerComposeWould passing
// means something. The unchanged copy, loaded from the same place, shows
// the errors come from the mutations.
func TestLoaderRejectsWhatDockerComposeRejects(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new string
		wantErr        string // "" for the unchanged copy
	}{
		{name: "unchanged"},
		{"misspelled service key", "    healthcheck:\n", "    healtcheck:\n", "healtcheck"},
		{"misspelled key reached through a YAML merge", "  start_period:", "  start_perod:", "start_perod"},
		{"misspelled top-level key", "\nvolumes:\n", "\nvolume:\n", "volume"},
		{"unknown depends_on condition", "condition: service_started}", "condition: service_ready}", "condition"},
		{"depends_on a service that does not exist", "jaeger: {condition: service_started}", "jaegr: {condition: service_started}", "jaegr"},
		{"named volume not declared", "  node3-data:\n", "", "node3-data"},
		{"malformed interpolation", "-data, /var/lib/raft-node]", "-data, \"/var/lib/${DATA\"]", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mutated := strings.Replace(string(src), tc.old, tc.new, 1)
			if tc.old != "" && mutated == string(src) {
				t.Fatalf("%q is not in %s: the mutation tests nothing", tc.old, composeFile)
			}
			file := filepath.Join(t.TempDir(), "docker-compose.yaml")
			if err := os.WriteFile(file, []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := load(t.Context(), file)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("the unchanged file, copied to %s: %v", file, err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("loaded without error; docker compose would refuse it")
			case tc.wantErr != "" && !strings.Contains(strings.ToLower(err.Error()), tc.wantErr):
				t.Fatalf("error %q does not name %q", err, tc.wantErr)
			}
		})
	}
}

func TestBindMountsExistInTheRepositoryReadOnly(t *testing.T) {
	t.Parallel()
	p := project(t)
	root := absPath(t, repoRoot)
	binds := 0
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, v := range p.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			binds++
			if rel, err := filepath.Rel(root, v.Source); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s mounts %s, outside the repository %s", name, v.Source, root)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s at %s: %v", name, v.Source, v.Target, err)
			}
			if !v.ReadOnly {
				t.Errorf("%s mounts %s writable: the stack must not write into the repository", name, v.Source)
			}
		}
	}
	if binds == 0 {
		t.Fatal("no bind mounts: the stack cannot be reading the repository's configs")
	}
}

// Each program is started on the repository's config, mounted where its
// command line (or its image's default path) reads it.
func TestEachProgramReadsTheRepositoryConfig(t *testing.T) {
	t.Parallel()
	p := project(t)
	for _, c := range []struct{ file, flag string }{
		{"collector.yaml", "--config="},
		{"jaeger.yaml", "--config=file:"},
		{"prometheus.yml", "--config.file="},
		{"alertmanager.yml", "--config.file="},
	} {
		t.Run(c.file, func(t *testing.T) {
			name, s := serviceMounting(t, p, c.file)
			arg, ok := flagValue(s.Command, c.flag)
			if !ok {
				t.Fatalf("%s: no %s… in command %q", name, c.flag, s.Command)
			}
			if host, ok := hostPath(s, arg); !ok || !samePath(t, host, filepath.Join(exampleDir, c.file)) {
				t.Errorf("%s reads %s, mounted from %q, want %s", name, arg, host, c.file)
			}
		})
	}

	t.Run("prometheus rule files", func(t *testing.T) {
		name, s := serviceMounting(t, p, "prometheus.yml")
		config, _ := flagValue(s.Command, "--config.file=")
		var prom prometheusConfig
		readYAML(t, filepath.Join(exampleDir, "prometheus.yml"), &prom)
		if len(prom.RuleFiles) == 0 {
			t.Fatal("prometheus.yml has no rule_files; the stack promises the alerts")
		}
		for _, r := range prom.RuleFiles {
			inContainer := r
			if !path.IsAbs(r) { // relative to the config file, as Prometheus reads it
				inContainer = path.Join(path.Dir(config), r)
			}
			host, ok := hostPath(s, inContainer)
			if !ok {
				t.Errorf("%s: rule file %s (%s) is not mounted", name, r, inContainer)
				continue
			}
			if _, err := os.Stat(host); err != nil {
				t.Errorf("%s: rule file %s: %v", name, r, err)
			}
		}
	})

	t.Run("grafana", func(t *testing.T) {
		provisioning := filepath.Join(exampleDir, "grafana", "provisioning")
		name, s := serviceMounting(t, p, filepath.Join("grafana", "provisioning"))
		dir := envOr(s, "GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
		if host, ok := hostPath(s, dir); !ok || !samePath(t, host, provisioning) {
			t.Errorf("%s reads its provisioning at %s, mounted from %q, want %s", name, dir, host, provisioning)
		}
		var dash struct {
			Providers []struct {
				Name    string `yaml:"name"`
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		readYAML(t, filepath.Join(provisioning, "dashboards", "dashboards.yaml"), &dash)
		if len(dash.Providers) == 0 {
			t.Fatal("grafana/provisioning/dashboards/dashboards.yaml has no providers")
		}
		for _, pr := range dash.Providers {
			host, ok := hostPath(s, pr.Options.Path)
			if !ok {
				t.Errorf("%s: dashboard provider %q reads %s, which is not mounted", name, pr.Name, pr.Options.Path)
				continue
			}
			if json, _ := filepath.Glob(filepath.Join(host, "*.json")); len(json) == 0 {
				t.Errorf("%s: dashboard provider %q reads %s (%s), which holds no dashboard", name, pr.Name, pr.Options.Path, host)
			}
		}
		if home := envOr(s, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", ""); home != "" {
			host, ok := hostPath(s, home)
			if _, err := os.Stat(host); !ok || err != nil {
				t.Errorf("%s: the home dashboard %s is not a mounted file (%q, %v)", name, home, host, err)
			}
		}
	})
}

func TestNodesExportOTLPToTheCollectorsReceiver(t *testing.T) {
	t.Parallel()
	p := project(t)
	colName, colSvc := serviceMounting(t, p, "collector.yaml")
	var col collectorConfig
	readYAML(t, filepath.Join(exampleDir, "collector.yaml"), &col)
	for _, n := range nodes(t, p) {
		// The README's Jaeger and Grafana views need the traces and the
		// metrics; the collector's log needs the logs.
		for _, v := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
			if got := envOr(n.svc, v, ""); got != "otlp" {
				t.Errorf("%s: %s=%q, want otlp", n.name, v, got)
			}
		}
		// OTel's default protocol is http/protobuf.
		receiver := col.Receivers.OTLP.Protocols.HTTP.Endpoint
		if proto := envOr(n.svc, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"); proto == "grpc" {
			receiver = col.Receivers.OTLP.Protocols.GRPC.Endpoint
		}
		host, port := splitHostPort(t, resolve(t, colSvc, receiver))
		if !bindsAll(host) {
			t.Errorf("collector.yaml's OTLP receiver binds %s, which other containers cannot reach", host)
		}
		endpoint := envOr(n.svc, "OTEL_EXPORTER_OTLP_ENDPOINT", "")
		u, err := url.Parse(endpoint)
		if err != nil || u.Hostname() != colName || u.Port() != strconv.Itoa(port) {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want http://%s:%d (the collector's receiver for %s)",
				n.name, endpoint, colName, port, envOr(n.svc, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
		}
	}
}

func TestCollectorSendsTracesToJaegersReceiver(t *testing.T) {
	t.Parallel()
	p := project(t)
	_, colSvc := serviceMounting(t, p, "collector.yaml")
	jName, jSvc := serviceMounting(t, p, "jaeger.yaml")
	var col collectorConfig
	readYAML(t, filepath.Join(exampleDir, "collector.yaml"), &col)
	var jaeger jaegerConfig
	readYAML(t, filepath.Join(exampleDir, "jaeger.yaml"), &jaeger)
	host, port := splitHostPort(t, resolve(t, jSvc, jaeger.Receivers.OTLP.Protocols.GRPC.Endpoint))
	if !bindsAll(host) {
		t.Errorf("jaeger.yaml's OTLP receiver binds %s, which the collector cannot reach", host)
	}
	want := net.JoinHostPort(jName, strconv.Itoa(port))
	exporters := col.exportersOf(t, "traces", "otlp", "otlp_grpc")
	if len(exporters) == 0 {
		t.Fatal("collector.yaml's traces pipeline has no OTLP exporter")
	}
	for _, e := range exporters {
		setting := col.Exporters[e].Endpoint
		if got := resolve(t, colSvc, setting); got != want {
			t.Errorf("collector exporter %s sends to %q (%s), want %s", e, got, setting, want)
		}
		// collector.yaml promises its defaults are the compose names.
		if got := resolve(t, types.ServiceConfig{}, setting); got != want {
			t.Errorf("collector exporter %s defaults to %q, want %s", e, got, want)
		}
	}
}

func TestPrometheusScrapesTheCollectorOrEachNode(t *testing.T) {
	t.Parallel()
	p := project(t)
	colName, colSvc := serviceMounting(t, p, "collector.yaml")
	var col collectorConfig
	readYAML(t, filepath.Join(exampleDir, "collector.yaml"), &col)
	var prom prometheusConfig
	readYAML(t, filepath.Join(exampleDir, "prometheus.yml"), &prom)

	exporters := col.exportersOf(t, "metrics", "prometheus")
	if len(exporters) != 1 {
		t.Fatalf("collector.yaml's metrics pipeline has Prometheus exporters %v, want one", exporters)
	}
	host, port := splitHostPort(t, resolve(t, colSvc, col.Exporters[exporters[0]].Endpoint))
	if !bindsAll(host) {
		t.Errorf("collector.yaml's Prometheus exporter binds %s, which Prometheus cannot reach", host)
	}
	if got, want := prom.targets(t, collectorJob), []string{net.JoinHostPort(colName, strconv.Itoa(port))}; !slices.Equal(got, want) {
		t.Errorf("prometheus.yml job %s scrapes %v, want %v (the collector's Prometheus exporter)", collectorJob, got, want)
	}

	// prometheus-direct.yml, the way in without a collector, scrapes the
	// same nodes where they listen.
	var direct prometheusConfig
	readYAML(t, filepath.Join(exampleDir, "prometheus-direct.yml"), &direct)
	var want []string
	for _, n := range nodes(t, p) {
		want = append(want, n.flags["advertise"]) // where peers reach its HTTP; TestNodesAdvertise… checks it is
	}
	slices.Sort(want)
	if got := slices.Sorted(slices.Values(direct.targets(t, nodesJob))); !slices.Equal(got, want) {
		t.Errorf("prometheus-direct.yml job %s scrapes %v, want the nodes' -advertise addresses %v", nodesJob, got, want)
	}
}

// webPort is the port a Prometheus-style program (Prometheus,
// Alertmanager) serves on: its --web.listen-address, or its default.
func webPort(t *testing.T, s types.ServiceConfig, def int) int {
	t.Helper()
	listen, _ := flagValue(s.Command, "--web.listen-address=")
	if listen == "" {
		return def
	}
	_, port := splitHostPort(t, listen)
	return port
}

// Prometheus sends its alerts to the Alertmanager service, on the port
// Alertmanager listens on (its default, 9093, unless its command says).
func TestPrometheusAlertsGoToAlertmanager(t *testing.T) {
	t.Parallel()
	p := project(t)
	amName, amSvc := serviceMounting(t, p, "alertmanager.yml")
	port := webPort(t, amSvc, 9093)
	var prom struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	readYAML(t, filepath.Join(exampleDir, "prometheus.yml"), &prom)
	var got []string
	for _, am := range prom.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			got = append(got, sc.Targets...)
		}
	}
	if want := []string{net.JoinHostPort(amName, strconv.Itoa(port))}; !slices.Equal(got, want) {
		t.Errorf("prometheus.yml sends alerts to %v, want %v", got, want)
	}
}

func TestGrafanaQueriesThePrometheusService(t *testing.T) {
	t.Parallel()
	p := project(t)
	pName, pSvc := serviceMounting(t, p, "prometheus.yml")
	port := webPort(t, pSvc, 9090)
	var ds struct {
		Datasources []struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(exampleDir, "grafana", "provisioning", "datasources", "prometheus.yaml"), &ds)
	found := false
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" {
			continue
		}
		found = true
		u, err := url.Parse(d.URL)
		if err != nil || u.Hostname() != pName || u.Port() != strconv.Itoa(port) {
			t.Errorf("Grafana data source %q: url %q, want http://%s:%d", d.Name, d.URL, pName, port)
		}
	}
	if !found {
		t.Fatal("Grafana's provisioning has no Prometheus data source")
	}
}

// What people open on localhost (the README and the file's top comment)
// is published, on the port each program listens on inside its container.
func TestPublishedPortsReachTheListeners(t *testing.T) {
	t.Parallel()
	p := project(t)
	var jaeger jaegerConfig
	readYAML(t, filepath.Join(exampleDir, "jaeger.yaml"), &jaeger)
	jName, jSvc := serviceMounting(t, p, "jaeger.yaml")
	host, jPort := splitHostPort(t, resolve(t, jSvc, jaeger.Extensions.Query.HTTP.Endpoint))
	if !bindsAll(host) {
		t.Errorf("jaeger.yaml's query UI binds %s, which a published port cannot reach", host)
	}
	pName, pSvc := serviceMounting(t, p, "prometheus.yml")
	pPort := webPort(t, pSvc, 9090)
	gName, gSvc := serviceMounting(t, p, filepath.Join("grafana", "provisioning"))
	gPort, err := strconv.Atoi(envOr(gSvc, "GF_SERVER_HTTP_PORT", "3000"))
	if err != nil {
		t.Fatalf("%s: GF_SERVER_HTTP_PORT: %v", gName, err)
	}
	amName, amSvc := serviceMounting(t, p, "alertmanager.yml")
	listeners := map[string]int{jName: jPort, pName: pPort, gName: gPort, amName: webPort(t, amSvc, 9093)}
	for _, n := range nodes(t, p) {
		_, port := splitHostPort(t, n.flags["listen"])
		listeners[n.name] = port
	}
	for _, name := range slices.Sorted(maps.Keys(listeners)) {
		if !publishes(p.Services[name], listeners[name]) {
			t.Errorf("%s listens on %d, but ports %v do not publish it as localhost:%d", name, listeners[name], p.Services[name].Ports, listeners[name])
		}
	}

	hostPorts := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, pc := range p.Services[name].Ports {
			if other, ok := hostPorts[pc.Published]; ok {
				t.Errorf("%s and %s both publish host port %s", other, name, pc.Published)
			}
			hostPorts[pc.Published] = name
		}
	}

	src, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var top strings.Builder
	for line := range strings.Lines(string(src)) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		top.WriteString(line)
	}
	urls := regexp.MustCompile(`http://localhost:(\d+)`).FindAllStringSubmatch(top.String(), -1)
	if len(urls) == 0 {
		t.Fatalf("%s's top comment names no http://localhost URL to open", composeFile)
	}
	for _, u := range urls {
		if _, ok := hostPorts[u[1]]; !ok {
			t.Errorf("the top comment says to open %s, but no service publishes port %s", u[0], u[1])
		}
	}
}

// The node commands use only flags raft-node's one-node command line
// defines, read from its source. It fails, naming the flag, when the
// compose file and raft-node disagree.
func TestNodeCommandsUseOnlyRaftNodeFlags(t *testing.T) {
	t.Parallel()
	p := project(t)
	defined := raftNodeFlags(t)
	for _, n := range nodes(t, p) {
		fs := flag.NewFlagSet(n.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for name, kind := range defined {
			switch kind {
			case "bool":
				fs.Bool(name, false, "")
			case "duration":
				fs.Duration(name, 0, "")
			case "int":
				fs.Int64(name, 0, "")
			case "uint":
				fs.Uint64(name, 0, "")
			case "float":
				fs.Float64(name, 0, "")
			default:
				fs.String(name, "", "")
			}
		}
		if err := fs.Parse(n.svc.Command); err != nil {
			t.Errorf("%s: command %q: %v (raft-node defines %v)", n.name, n.svc.Command, err, slices.Sorted(maps.Keys(defined)))
		} else if fs.NArg() > 0 {
			t.Errorf("%s: command %q: arguments %q after the flags", n.name, n.svc.Command, fs.Args())
		}
	}
}

// Each node binds all interfaces, advertises its service name (what the
// other containers resolve) on the port it listens on, lists every node
// as a seed exactly as that node advertises itself, and keeps its Raft
// state in a volume of its own, so a container restart is a Raft restart.
func TestNodesAdvertiseTheirServiceNamesAndListEachOther(t *testing.T) {
	t.Parallel()
	p := project(t)
	ns := nodes(t, p)
	if len(ns) != 3 {
		t.Fatalf("%d raft-node services, want 3", len(ns))
	}
	var advertised []string
	ids := map[string]string{}
	dataVolumes := map[string]string{}
	for _, n := range ns {
		f := n.flags
		if f["id"] == "" {
			t.Errorf("%s: no -id", n.name)
		} else if other, ok := ids[f["id"]]; ok {
			t.Errorf("%s and %s both have -id %s", other, n.name, f["id"])
		}
		ids[f["id"]] = n.name
		for _, pair := range [][2]string{{"listen", "advertise"}, {"raft", "raft-advertise"}} {
			bindHost, bindPort := splitHostPort(t, f[pair[0]])
			advHost, advPort := splitHostPort(t, f[pair[1]])
			if !bindsAll(bindHost) {
				t.Errorf("%s: -%s %s does not bind all interfaces; other containers cannot reach it", n.name, pair[0], f[pair[0]])
			}
			if advHost != n.name || advPort != bindPort {
				t.Errorf("%s: -%s %q, want %s:%d (its service name, its -%s port)", n.name, pair[1], f[pair[1]], n.name, bindPort, pair[0])
			}
		}
		advertised = append(advertised, f["advertise"])
		v, rest, ok := mountAt(n.svc, f["data"])
		switch {
		case f["data"] == "":
			t.Errorf("%s: no -data", n.name)
		case !ok || v.Type != types.VolumeTypeVolume || rest != "":
			t.Errorf("%s: -data %s is not a named volume's mount point (%+v); a container restart would lose the Raft log", n.name, f["data"], v)
		case dataVolumes[v.Source] != "":
			t.Errorf("%s and %s share the data volume %s", dataVolumes[v.Source], n.name, v.Source)
		default:
			dataVolumes[v.Source] = n.name
			for other, s := range p.Services {
				if other != n.name && slices.ContainsFunc(s.Volumes, func(o types.ServiceVolumeConfig) bool { return o.Source == v.Source }) {
					t.Errorf("%s also mounts %s's data volume %s", other, n.name, v.Source)
				}
			}
		}
	}
	slices.Sort(advertised)
	for _, n := range ns {
		if seeds := slices.Sorted(slices.Values(strings.Split(n.flags["seeds"], ","))); !slices.Equal(seeds, advertised) {
			t.Errorf("%s: -seeds %q, want the nodes' -advertise addresses %v", n.name, n.flags["seeds"], advertised)
		}
	}
}

// Each node's healthcheck is curl --fail on its own /readyz: 200 only
// while Ready. Without --fail, curl exits 0 on a 503 and every node would
// look healthy.
func TestNodeHealthchecksProbeTheirOwnReadyz(t *testing.T) {
	t.Parallel()
	p := project(t)
	for _, n := range nodes(t, p) {
		hc := n.svc.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s: no healthcheck (%+v)", n.name, hc)
			continue
		}
		var args []string
		switch hc.Test[0] {
		case "CMD":
			args = hc.Test[1:]
		case "CMD-SHELL":
			args = strings.Fields(strings.Join(hc.Test[1:], " "))
		default:
			t.Errorf("%s: healthcheck test %q", n.name, hc.Test)
			continue
		}
		if args[0] != "curl" {
			t.Errorf("%s: healthcheck %q: want curl (the node image has it)", n.name, hc.Test)
			continue
		}
		fails := slices.ContainsFunc(args, func(a string) bool {
			return a == "--fail" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "f"))
		})
		if !fails {
			t.Errorf("%s: healthcheck %q: curl without -f exits 0 on 503", n.name, hc.Test)
		}
		_, listenPort := splitHostPort(t, n.flags["listen"])
		probed := false
		for _, a := range args {
			u, err := url.Parse(a)
			if err != nil || u.Scheme != "http" {
				continue
			}
			probed = true
			if h := u.Hostname(); (h != "localhost" && h != "127.0.0.1") || u.Port() != strconv.Itoa(listenPort) || u.Path != "/readyz" {
				t.Errorf("%s: healthcheck probes %s, want http://localhost:%d/readyz (its own -listen port)", n.name, a, listenPort)
			}
		}
		if !probed {
			t.Errorf("%s: healthcheck %q probes no http URL", n.name, hc.Test)
		}
		if hc.StartPeriod == nil {
			t.Errorf("%s: healthcheck has no start_period: a node joining counts as failing", n.name)
		}
	}
}

// The nodes run the binary raft-node-build builds from examples/raft-node
// (GOWORK=off: its own go.mod), through a shared volume, once the build
// has succeeded.
func TestNodesRunTheBinaryBuiltFromRaftNode(t *testing.T) {
	t.Parallel()
	p := project(t)
	const builder = "raft-node-build"
	b, ok := p.Services[builder]
	if !ok {
		t.Fatalf("no %s service", builder)
	}
	if host, ok := hostPath(b, b.WorkingDir); !ok || !samePath(t, host, raftNodeDir) {
		t.Errorf("%s builds in %s, mounted from %q, want examples/raft-node", builder, b.WorkingDir, host)
	}
	if got := envOr(b, "GOWORK", ""); got != "off" {
		t.Errorf("%s: GOWORK=%q, want off", builder, got)
	}
	out, ok := flagValue(b.Command, "-o")
	if !ok || len(b.Command) < 2 || b.Command[0] != "go" || b.Command[1] != "build" {
		t.Fatalf("%s: command %q, want go build -o …", builder, b.Command)
	}
	outVol, outRest, ok := mountAt(b, out)
	if !ok || outVol.Type != types.VolumeTypeVolume {
		t.Fatalf("%s writes %s, not into a named volume", builder, out)
	}
	for _, n := range nodes(t, p) {
		v, rest, ok := mountAt(n.svc, n.svc.Entrypoint[0])
		if !ok || v.Source != outVol.Source || rest != outRest {
			t.Errorf("%s runs %s from %+v %q, want %s's %s (volume %s)", n.name, n.svc.Entrypoint[0], v, rest, builder, out, outVol.Source)
		} else if !v.ReadOnly {
			t.Errorf("%s mounts the binary's volume writable", n.name)
		}
		if dep := n.svc.DependsOn[builder]; dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s: depends_on %s %q, want %s", n.name, builder, dep.Condition, types.ServiceConditionCompletedSuccessfully)
		}
	}
}

// The start order holds what needs holding and nothing that can deadlock:
// the collector before the nodes (their first telemetry), Jaeger before
// the collector, Prometheus before Grafana, and no node waiting for
// another's readiness (after `docker compose down`, the volumes kept, a
// node is Ready only once a quorum runs: node2 waiting for node1's
// /readyz would wait forever). A service_healthy dependency needs a
// healthcheck on its target, or docker compose refuses to start.
func TestStartOrderCannotDeadlock(t *testing.T) {
	t.Parallel()
	p := project(t)
	colName, _ := serviceMounting(t, p, "collector.yaml")
	jName, _ := serviceMounting(t, p, "jaeger.yaml")
	pName, _ := serviceMounting(t, p, "prometheus.yml")
	gName, _ := serviceMounting(t, p, filepath.Join("grafana", "provisioning"))
	started := func(c string) bool {
		return c == types.ServiceConditionStarted || c == types.ServiceConditionHealthy
	}
	ns := nodes(t, p)
	isNode := map[string]bool{}
	for _, n := range ns {
		isNode[n.name] = true
	}
	for _, n := range ns {
		if dep, ok := n.svc.DependsOn[colName]; !ok || !started(dep.Condition) {
			t.Errorf("%s does not wait for %s to start", n.name, colName)
		}
		for other, dep := range n.svc.DependsOn {
			if isNode[other] && dep.Condition == types.ServiceConditionHealthy {
				t.Errorf("%s waits for %s to be healthy: after a restart of the whole stack neither is Ready without the other", n.name, other)
			}
		}
	}
	for _, c := range [][2]string{{colName, jName}, {gName, pName}} {
		if dep, ok := p.Services[c[0]].DependsOn[c[1]]; !ok || !started(dep.Condition) {
			t.Errorf("%s does not wait for %s to start", c[0], c[1])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for target, dep := range p.Services[name].DependsOn {
			hc := p.Services[target].HealthCheck
			if dep.Condition == types.ServiceConditionHealthy && (hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE") {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, target, target)
			}
		}
	}
}

// node is a service running raft-node, and its command's flags.
type node struct {
	name  string
	svc   types.ServiceConfig
	flags map[string]string // "listen" → "0.0.0.0:7101"
}

// nodes are the services whose entrypoint is a raft-node binary, sorted by
// name. Their commands are read as -name value pairs (the compose file
// uses no boolean flag); TestNodeCommandsUseOnlyRaftNodeFlags checks them
// against raft-node itself.
func nodes(t *testing.T, p *types.Project) []node {
	t.Helper()
	var ns []node
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if len(s.Entrypoint) == 0 || path.Base(s.Entrypoint[0]) != "raft-node" {
			continue
		}
		n := node{name: name, svc: s, flags: map[string]string{}}
		for i := 0; i < len(s.Command); i += 2 {
			f, ok := strings.CutPrefix(s.Command[i], "-")
			if !ok || i+1 == len(s.Command) {
				t.Fatalf("%s: command %q is not -flag value pairs at %q", name, s.Command, s.Command[i])
			}
			n.flags[strings.TrimPrefix(f, "-")] = s.Command[i+1]
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		t.Fatal("no service runs raft-node")
	}
	return ns
}

// raftNodeFlags reads the flags of raft-node's one-node command line from
// its source: the flags of the FlagSet made by flag.NewFlagSet("raft-node",
// …); the demo's FlagSet, "raft-node demo", is not that command line. It
// returns name → kind ("bool", "duration", "int", "uint", "float",
// "string").
func raftNodeFlags(t *testing.T) map[string]string {
	t.Helper()
	p, err := gosource.Read(raftNodeDir, "raft-node")
	if err != nil {
		t.Fatalf("raft-node's source: %v", err)
	}
	kinds := map[string]string{}
	for name, f := range p.Flags {
		kinds[name] = f.Kind
	}
	return kinds
}

// The parts of the configs the stack's addresses come from.
type (
	otlpReceiver struct {
		Protocols struct {
			GRPC struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"grpc"`
			HTTP struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"http"`
		} `yaml:"protocols"`
	}
	collectorConfig struct {
		Receivers struct {
			OTLP otlpReceiver `yaml:"otlp"`
		} `yaml:"receivers"`
		Exporters map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"exporters"`
		Service struct {
			Pipelines map[string]struct {
				Exporters []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	jaegerConfig struct {
		Extensions struct {
			Query struct {
				HTTP struct {
					Endpoint string `yaml:"endpoint"`
				} `yaml:"http"`
			} `yaml:"jaeger_query"`
		} `yaml:"extensions"`
		Receivers struct {
			OTLP otlpReceiver `yaml:"otlp"`
		} `yaml:"receivers"`
	}
	prometheusConfig struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
)

// exportersOf are the exporters of the collector pipeline whose type (the
// part of the ID before any "/") is one of kinds.
func (c collectorConfig) exportersOf(t *testing.T, pipeline string, kinds ...string) []string {
	t.Helper()
	pl, ok := c.Service.Pipelines[pipeline]
	if !ok {
		t.Fatalf("collector.yaml has no %s pipeline", pipeline)
	}
	var out []string
	for _, e := range pl.Exporters {
		typ, _, _ := strings.Cut(e, "/")
		if slices.Contains(kinds, typ) {
			out = append(out, e)
		}
	}
	return out
}

func (c prometheusConfig) targets(t *testing.T, job string) []string {
	t.Helper()
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName != job {
			continue
		}
		var out []string
		for _, st := range sc.StaticConfigs {
			out = append(out, st.Targets...)
		}
		return out
	}
	t.Fatalf("the Prometheus configuration has no job %s", job)
	return nil
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

var envPlaceholder = regexp.MustCompile(`^\$\{env:([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}$`)

// resolve is the value a collector or Jaeger setting takes in service s:
// for "${env:NAME:-default}", NAME from s's environment, else default.
func resolve(t *testing.T, s types.ServiceConfig, setting string) string {
	t.Helper()
	m := envPlaceholder.FindStringSubmatch(setting)
	if m == nil {
		if strings.Contains(setting, "${") {
			t.Fatalf("cannot resolve %q: only ${env:NAME:-default} is understood", setting)
		}
		return setting
	}
	return envOr(s, m[1], m[2])
}

func envOr(s types.ServiceConfig, name, def string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return *v
	}
	return def
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: port: %v", addr, err)
	}
	return host, port
}

// bindsAll reports whether a listener on host is reachable from other
// containers and through published ports.
func bindsAll(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// publishes reports whether s publishes its container port on the same
// host port, as the README's localhost URLs assume.
func publishes(s types.ServiceConfig, port int) bool {
	return slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool {
		return pc.Target == uint32(port) && pc.Published == strconv.Itoa(port)
	})
}

// flagValue is the value of the first argument of the form prefix+value
// ("--config=x"), or, when prefix is a bare flag ("-o"), of the argument
// after it.
func flagValue(args []string, prefix string) (string, bool) {
	for i, a := range args {
		if !strings.HasSuffix(prefix, "=") && !strings.HasSuffix(prefix, ":") {
			if a == prefix && i+1 < len(args) {
				return args[i+1], true
			}
			continue
		}
		if v, ok := strings.CutPrefix(a, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// mountAt is the mount of s that holds container path p (the deepest, as
// Docker nests them) and p's rest below its target.
func mountAt(s types.ServiceConfig, p string) (types.ServiceVolumeConfig, string, bool) {
	var best types.ServiceVolumeConfig
	rest, found := "", false
	for _, v := range s.Volumes {
		target := strings.TrimSuffix(v.Target, "/")
		r, ok := strings.CutPrefix(p, target)
		if !ok || (r != "" && !strings.HasPrefix(r, "/")) {
			continue
		}
		if !found || len(target) > len(strings.TrimSuffix(best.Target, "/")) {
			best, rest, found = v, strings.TrimPrefix(r, "/"), true
		}
	}
	return best, rest, found
}

// hostPath is the host file or folder that container path p of s is bound
// from.
func hostPath(s types.ServiceConfig, p string) (string, bool) {
	v, rest, ok := mountAt(s, p)
	if !ok || v.Type != types.VolumeTypeBind {
		return "", false
	}
	return filepath.Join(v.Source, filepath.FromSlash(rest)), true
}

// serviceMounting is the one service that bind-mounts rel, a path under
// examples/otel-collector: the service running the program that file
// configures, whatever it is called.
func serviceMounting(t *testing.T, p *types.Project, rel string) (string, types.ServiceConfig) {
	t.Helper()
	want := filepath.Join(exampleDir, rel)
	var found []string
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, v := range p.Services[name].Volumes {
			if v.Type == types.VolumeTypeBind && samePath(t, v.Source, want) {
				found = append(found, name)
				break
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("services mounting %s: %v, want exactly one", rel, found)
	}
	return found[0], p.Services[found[0]]
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func samePath(t *testing.T, a, b string) bool {
	t.Helper()
	return absPath(t, a) == absPath(t, b)
}
