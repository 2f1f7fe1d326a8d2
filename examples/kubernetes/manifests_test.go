package kubernetes_test

import (
	"bufio"
	"fmt"
	"go/version"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/gosource"
)

// The files under test, in this folder.
const (
	manifestFile  = "raft-node.yaml"
	grpcPatchFile = "raft-node-grpc-probes.yaml"
	dockerFile    = "Dockerfile"
	readmeFile    = "README.md"
	containerName = "raft-node"
	repoRoot      = "../.."
)

// What the manifest's timings must cover, from raft-node and the packages
// it runs on.
const (
	// joinBackoff is lifecycleraft's default join schedule, the origin's:
	// attempts after 0, 0.25, 0.5, 1, 2, 4, 8 and 16 s, then Failed.
	joinBackoff = 31750 * time.Millisecond
	// minStartup is the least time the startup probe must give a node to
	// be Ready once: the whole join schedule, with margin for the
	// attempts themselves and the first election.
	minStartup = 45 * time.Second
	// leaveTimeout bounds Draining's leadership transfer (the context of
	// node.leave in examples/raft-node/node.go).
	leaveTimeout = 10 * time.Second
	// stopTimeout bounds Stopping: the HTTP server's Shutdown (1 s), the
	// tracker's Close (otellifecycle.DefaultCloseTimeout, 5 s) and the
	// providers' flush (5 s), in node.closeAll.
	stopTimeout = 11 * time.Second
	// nonrootUID is the user of gcr.io/distroless/static-debian12:nonroot.
	nonrootUID = 65532
)

// manifests are the decoded files.
type manifests struct {
	sts      *appsv1.StatefulSet
	services map[string]*corev1.Service
	pdb      *policyv1.PodDisruptionBudget
	// grpc is sts patched by grpcPatchFile as kubectl patch would.
	grpc *appsv1.StatefulSet
}

var loadManifests = sync.OnceValues(func() (*manifests, error) {
	docs, err := decodeFile(manifestFile)
	if err != nil {
		return nil, err
	}
	m := &manifests{services: map[string]*corev1.Service{}}
	var stsJSON []byte
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			if m.sts != nil {
				return nil, fmt.Errorf("%s: a second StatefulSet, %s", manifestFile, o.Name)
			}
			m.sts, stsJSON = o, d.json
		case *corev1.Service:
			if m.services[o.Name] != nil {
				return nil, fmt.Errorf("%s: a second Service named %s", manifestFile, o.Name)
			}
			m.services[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			if m.pdb != nil {
				return nil, fmt.Errorf("%s: a second PodDisruptionBudget, %s", manifestFile, o.Name)
			}
			m.pdb = o
		}
	}
	if m.sts == nil || m.pdb == nil {
		return nil, fmt.Errorf("%s: want a StatefulSet and a PodDisruptionBudget", manifestFile)
	}
	patches, err := decodeFile(grpcPatchFile)
	if err != nil {
		return nil, err
	}
	if len(patches) != 1 {
		return nil, fmt.Errorf("%s: %d documents, want one patch", grpcPatchFile, len(patches))
	}
	p, ok := patches[0].obj.(*appsv1.StatefulSet)
	if !ok || p.Name != m.sts.Name {
		return nil, fmt.Errorf("%s: want a patch of StatefulSet %s, got %s %v", grpcPatchFile, m.sts.Name, patches[0].gvk, patches[0].obj.(metav1.Object).GetName())
	}
	// kubectl patch's default type: a strategic merge patch, containers
	// merged by name, null deleting a field.
	merged, err := strategicpatch.StrategicMergePatch(stsJSON, patches[0].json, appsv1.StatefulSet{})
	if err != nil {
		return nil, fmt.Errorf("%s does not apply to %s: %w", grpcPatchFile, manifestFile, err)
	}
	d, err := decodeStrict(merged)
	if err != nil {
		return nil, fmt.Errorf("%s patched by %s: %w", manifestFile, grpcPatchFile, err)
	}
	m.grpc = d.obj.(*appsv1.StatefulSet)
	return m, nil
})

func load(t *testing.T) *manifests {
	t.Helper()
	m, err := loadManifests()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func source(t *testing.T) *gosource.Program {
	t.Helper()
	n, err := readRaftNode()
	if err != nil {
		t.Fatalf("reading raft-node's source: %v", err)
	}
	return n
}

// variant is one StatefulSet a user may run: raft-node.yaml as it is, or
// with the gRPC readiness probe patched in. Each must pass every check.
type variant struct {
	name string
	sts  *appsv1.StatefulSet
}

func variants(t *testing.T) []variant {
	m := load(t)
	return []variant{{manifestFile, m.sts}, {manifestFile + " + " + grpcPatchFile, m.grpc}}
}

// node is the raft-node container of a variant, with its parsed flags.
type node struct {
	variant
	c     *corev1.Container
	flags map[string]string // "listen" → "0.0.0.0:7101"; a lone boolean flag → "true"
}

func nodeOf(t *testing.T, v variant) node {
	t.Helper()
	cs := v.sts.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != containerName {
		t.Fatalf("%s: containers %v, want one, %q", v.name, containerNames(cs), containerName)
	}
	flags, err := parseArgs(cs[0].Args)
	if err != nil {
		t.Fatalf("%s: args %q: %v", v.name, cs[0].Args, err)
	}
	return node{variant: v, c: &cs[0], flags: flags}
}

func containerNames(cs []corev1.Container) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

func eachNode(t *testing.T, check func(t *testing.T, n node)) {
	t.Helper()
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) { check(t, nodeOf(t, v)) })
	}
}

// parseArgs reads args as Go flags (-name=value, -name value, or a lone
// -name for a boolean), knowing no flag names: whether raft-node defines
// them is TestArgsUseOnlyFlagsRaftNodeDefines's business.
func parseArgs(args []string) (map[string]string, error) {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return nil, fmt.Errorf("%q is not a flag: raft-node takes flags only", a)
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !ok {
			value = "true"
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				value = args[i+1]
				i++
			}
		}
		if _, dup := flags[name]; dup {
			return nil, fmt.Errorf("-%s given twice", name)
		}
		flags[name] = value
	}
	return flags, nil
}

// containerPort is the container's port named name.
func (n node) containerPort(t *testing.T, name string) int32 {
	t.Helper()
	for _, p := range n.c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("%s: no container port named %q (ports %v)", n.name, name, n.c.Ports)
	return 0
}

// resolvePort is the container port a probe's or a Service's port names.
func resolvePort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// hostPort splits a flag's host:port.
func hostPort(t *testing.T, n node, flag string) (string, int32) {
	t.Helper()
	v, ok := n.flags[flag]
	if !ok {
		t.Fatalf("%s: no -%s", n.name, flag)
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		t.Fatalf("%s: -%s %q: %v", n.name, flag, v, err)
	}
	p, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("%s: -%s %q: port: %v", n.name, flag, v, err)
	}
	return host, int32(p)
}

// podName is the name of the StatefulSet's pod of ordinal i.
func podName(sts *appsv1.StatefulSet, i int) string { return fmt.Sprintf("%s-%d", sts.Name, i) }

func replicas(t *testing.T, sts *appsv1.StatefulSet) int {
	t.Helper()
	if sts.Spec.Replicas == nil {
		t.Fatalf("StatefulSet %s: replicas unset", sts.Name)
	}
	return int(*sts.Spec.Replicas)
}

// varRef is a Kubernetes dependent-variable reference, $(NAME); $$ escapes.
var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand replaces $(NAME) as the kubelet does with vars; a reference to
// a name not in vars stays as it is, as it does in Kubernetes.
func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func refs(s string) []string {
	var names []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		if m[1] != "" {
			names = append(names, m[1])
		}
	}
	return names
}

// probeDefaults fills a probe's unset numbers with Kubernetes' defaults.
func probeDefaults(p corev1.Probe) corev1.Probe {
	for _, f := range []struct {
		v   *int32
		def int32
	}{{&p.PeriodSeconds, 10}, {&p.TimeoutSeconds, 1}, {&p.FailureThreshold, 3}, {&p.SuccessThreshold, 1}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return p
}

func handlers(h corev1.ProbeHandler) int {
	n := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil} {
		if set {
			n++
		}
	}
	return n
}

func selects(sel map[string]string, podLabels map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels))
}

func labelSelects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func TestEveryDocumentDecodesStrictlyAsItsKind(t *testing.T) {
	t.Parallel()
	for file, want := range map[string][]string{
		manifestFile:  {"v1 Service raft-node", "v1 Service raft-node-client", "apps/v1 StatefulSet raft-node", "policy/v1 PodDisruptionBudget raft-node"},
		grpcPatchFile: {"apps/v1 StatefulSet raft-node"},
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			docs, err := decodeFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, fmt.Sprintf("%s %s %s", d.gvk.GroupVersion(), d.gvk.Kind, d.obj.(metav1.Object).GetName()))
			}
			if !slices.Equal(got, want) {
				t.Errorf("documents %q, want %q", got, want)
			}
		})
	}
	load(t) // and the patch applies
}

// decodeStrict is as strict as the API server: each mutation of the real
// files is rejected by the function that decoded them above, so
// TestEveryDocumentDecodesStrictlyAsItsKind passing means something. The
// unchanged files, decoded the same way, show the errors come from the
// mutations.
func TestDecoderRejectsWhatTheAPIServerWouldRefuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, old, new string
		wantErr              string // "" for the unchanged file
	}{
		{name: "unchanged " + manifestFile, file: manifestFile},
		{name: "unchanged " + grpcPatchFile, file: grpcPatchFile},
		{"misspelled field", manifestFile, "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"field in the wrong case", manifestFile, "readinessProbe:", "ReadinessProbe:", "ReadinessProbe"},
		{"field at the wrong level", manifestFile, "  podManagementPolicy: Parallel", "  podManagementPolicy: Parallel\n  terminationGracePeriodSeconds: 45", `unknown field "spec.terminationGracePeriodSeconds"`},
		{"duplicate field", manifestFile, "  replicas: 3", "  replicas: 3\n  replicas: 3", `"replicas" already set`},
		{"value of the wrong type", manifestFile, "failureThreshold: 60", `failureThreshold: "60"`, "failureThreshold"},
		{"unknown kind", manifestFile, "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", "unknown kind policy/v1 PodDisruptionBudgets"},
		{"removed API version", manifestFile, "apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n", "unknown kind policy/v1beta1"},
		{"no kind", manifestFile, "kind: PodDisruptionBudget\n", "", "no apiVersion or kind"},
		{"misspelled field in the patch", grpcPatchFile, "grpc:", "gprc:", "gprc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			mutated := strings.Replace(string(src), tc.old, tc.new, 1)
			if tc.old != "" && mutated == string(src) {
				t.Fatalf("%q is not in %s: the mutation tests nothing", tc.old, tc.file)
			}
			_, err = decodeAll([]byte(mutated))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("the unchanged file: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("decoded without error; the API server would refuse it")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

// Each probe asks raft-node's own endpoint for its own question, by
// exactly one handler, and raft-node's source serves that endpoint.
func TestProbesUseThePathsRaftNodeServes(t *testing.T) {
	t.Parallel()
	src := source(t)
	eachNode(t, func(t *testing.T, n node) {
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{
			{"startupProbe", n.c.StartupProbe, "/startupz"},
			{"readinessProbe", n.c.ReadinessProbe, "/readyz"},
			{"livenessProbe", n.c.LivenessProbe, "/livez"},
		} {
			if p.probe == nil {
				t.Errorf("%s: no %s", n.name, p.kind)
				continue
			}
			if h := handlers(p.probe.ProbeHandler); h != 1 {
				t.Errorf("%s: %s has %d handlers, want exactly one (the API server refuses more)", n.name, p.kind, h)
			}
			switch {
			case p.probe.HTTPGet != nil:
				if got := p.probe.HTTPGet.Path; got != p.path {
					t.Errorf("%s: %s GETs %s, want %s", n.name, p.kind, got, p.path)
				}
				if !src.ServesGET(p.probe.HTTPGet.Path) {
					t.Errorf("%s: %s GETs %s, which raft-node does not serve: no mux.Handle(%q, …) in %s/*.go (it serves %v)",
						n.name, p.kind, p.probe.HTTPGet.Path, p.probe.HTTPGet.Path, raftNodeDir, slices.Sorted(maps.Keys(src.Routes)))
				}
			case p.probe.GRPC != nil && p.kind == "readinessProbe":
				if src.GRPCHealth == "" {
					t.Errorf("%s: %s calls grpc.health.v1, which raft-node does not serve: no RegisterHealthServer call in %s/*.go", n.name, p.kind, raftNodeDir)
				}
				if s := p.probe.GRPC.Service; s != nil && *s != "" {
					t.Errorf("%s: %s asks about service %q, want \"\" (the whole server, SERVING only while Ready)", n.name, p.kind, *s)
				}
			default:
				t.Errorf("%s: %s is neither an HTTP GET of %s nor (for readiness) a gRPC health check", n.name, p.kind, p.path)
			}
			if q := probeDefaults(*p.probe); q.TimeoutSeconds > q.PeriodSeconds {
				t.Errorf("%s: %s times out after %d s, longer than its period, %d s", n.name, p.kind, q.TimeoutSeconds, q.PeriodSeconds)
			}
		}
	})
}

func TestArgsUseOnlyFlagsRaftNodeDefines(t *testing.T) {
	t.Parallel()
	src := source(t)
	var defined []string
	for _, name := range slices.Sorted(maps.Keys(src.Flags)) {
		defined = append(defined, "-"+name)
	}
	eachNode(t, func(t *testing.T, n node) {
		for _, name := range slices.Sorted(maps.Keys(n.flags)) {
			def, ok := src.Flags[name]
			if !ok {
				t.Errorf("%s: -%s is not a flag of raft-node: no fs.String(%q, …) or the like on flag.NewFlagSet(\"raft-node\", …) in %s/*.go (its flags: %s)",
					n.name, name, name, raftNodeDir, strings.Join(defined, " "))
				continue
			}
			if def.Kind != "bool" && slices.Contains(n.c.Args, "-"+name) && n.flags[name] == "true" {
				t.Errorf("%s: -%s takes a value (%s) and has none", n.name, name, def.Pos)
			}
		}
	})
}

// The admin endpoints change a node's state without authentication:
// nothing here turns them on.
func TestAdminEndpointsAreNeverEnabled(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		if v, ok := n.flags["admin"]; ok {
			t.Errorf("%s: -admin %s: the admin endpoints are unauthenticated and never enabled in these manifests", n.name, v)
		}
		spec := n.sts.Spec.Template.Spec
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			for _, s := range slices.Concat(c.Command, c.Args) {
				if strings.HasPrefix(strings.TrimLeft(s, "-"), "admin") && strings.HasPrefix(s, "-") {
					t.Errorf("%s: container %s runs with %q", n.name, c.Name, s)
				}
			}
			for _, e := range c.Env {
				if strings.Contains(e.Value, "-admin") {
					t.Errorf("%s: container %s: env %s=%q", n.name, c.Name, e.Name, e.Value)
				}
			}
		}
	})
}

// Every replica runs the same args, so -bootstrap would have each of
// them bootstrap a cluster of its own. raft-node's rule does it instead:
// the lowest seed bootstraps when its data directory is empty.
func TestBootstrapIsLeftToTheLowestSeed(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		if _, ok := n.flags["bootstrap"]; ok {
			t.Errorf("%s: -bootstrap: every replica would bootstrap a cluster of its own", n.name)
		}
		seeds := strings.Split(n.flags["seeds"], ",")
		first := expand(n.flags["advertise"], map[string]string{"POD_NAME": podName(n.sts, 0)})
		if slices.Min(seeds) != first {
			t.Errorf("%s: the lowest seed is %s, not %s (ordinal 0, the first pod to exist)", n.name, slices.Min(seeds), first)
		}
	})
}

// Each node is known by its pod's name in the headless Service: its id,
// its HTTP and Raft addresses, and the seeds list, which holds every
// replica's -advertise as it writes it.
func TestNodesAdvertiseTheirHeadlessServiceNames(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		if n.flags["id"] != "$(POD_NAME)" {
			t.Errorf("%s: -id %q, want $(POD_NAME)", n.name, n.flags["id"])
		}
		httpPort, raftPort := n.containerPort(t, "http"), n.containerPort(t, "raft")
		var advertised []string
		for i := range replicas(t, n.sts) {
			pod := podName(n.sts, i)
			vars := map[string]string{"POD_NAME": pod}
			dns := pod + "." + n.sts.Spec.ServiceName
			for flag, want := range map[string]string{
				"advertise":      net.JoinHostPort(dns, strconv.Itoa(int(httpPort))),
				"raft-advertise": net.JoinHostPort(dns, strconv.Itoa(int(raftPort))),
			} {
				if got := expand(n.flags[flag], vars); got != want {
					t.Errorf("%s: pod %s: -%s %q is %q, want %q", n.name, pod, flag, n.flags[flag], got, want)
				}
			}
			advertised = append(advertised, expand(n.flags["advertise"], vars))
		}
		seeds := strings.Split(n.flags["seeds"], ",")
		if !slices.Equal(slices.Sorted(slices.Values(seeds)), slices.Sorted(slices.Values(advertised))) {
			t.Errorf("%s: -seeds %q, want every replica's -advertise %q", n.name, seeds, advertised)
		}
	})
}

// The ports the node binds are the container's ports, on every interface
// (the kubelet probes the pod's IP); the probes and Services reach them.
func TestPortsAgree(t *testing.T) {
	t.Parallel()
	m := load(t)
	eachNode(t, func(t *testing.T, n node) {
		for flag, name := range map[string]string{"listen": "http", "raft": "raft", "grpc": "grpc"} {
			host, port := hostPort(t, n, flag)
			if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
				t.Errorf("%s: -%s binds %s, which neither the kubelet nor the other pods reach; want 0.0.0.0", n.name, flag, host)
			}
			if want := n.containerPort(t, name); port != want {
				t.Errorf("%s: -%s binds port %d, the container port %q is %d", n.name, flag, port, name, want)
			}
		}
		_, grpcPort := hostPort(t, n, "grpc")
		for kind, p := range map[string]*corev1.Probe{"startupProbe": n.c.StartupProbe, "readinessProbe": n.c.ReadinessProbe, "livenessProbe": n.c.LivenessProbe} {
			switch {
			case p == nil:
			case p.HTTPGet != nil:
				got, ok := resolvePort(n.c, p.HTTPGet.Port)
				if want := n.containerPort(t, "http"); !ok || got != want {
					t.Errorf("%s: %s GETs port %s, want the HTTP port (%d, -listen)", n.name, kind, p.HTTPGet.Port.String(), want)
				}
			case p.GRPC != nil:
				if p.GRPC.Port != grpcPort {
					t.Errorf("%s: %s checks gRPC port %d, -grpc serves %d", n.name, kind, p.GRPC.Port, grpcPort)
				}
			}
		}
		for _, svc := range m.services {
			for _, sp := range svc.Spec.Ports {
				target := sp.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(sp.Port)
				}
				if _, ok := resolvePort(n.c, target); !ok {
					t.Errorf("%s: Service %s port %s targets %s, which is no container port", n.name, svc.Name, sp.Name, target.String())
				}
			}
		}
	})
}

func TestHeadlessServiceGovernsTheStatefulSet(t *testing.T) {
	t.Parallel()
	m := load(t)
	for _, v := range variants(t) {
		pod := v.sts.Spec.Template.Labels
		if !labelSelects(t, v.sts.Spec.Selector, pod) {
			t.Errorf("%s: the StatefulSet's selector %v does not select its own pods %v", v.name, v.sts.Spec.Selector, pod)
		}
		if got := v.sts.Spec.PodManagementPolicy; got != appsv1.ParallelPodManagement {
			t.Errorf("%s: podManagementPolicy %q, want Parallel (the nodes join each other)", v.name, got)
		}
		if got := replicas(t, v.sts); got != 3 {
			t.Errorf("%s: %d replicas, want 3", v.name, got)
		}
		svc := m.services[v.sts.Spec.ServiceName]
		if svc == nil {
			t.Errorf("%s: serviceName %q names no Service of %s", v.name, v.sts.Spec.ServiceName, manifestFile)
			continue
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s: clusterIP %q, want None: the StatefulSet's governing Service is headless", svc.Name, svc.Spec.ClusterIP)
		}
		if !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: publishNotReadyAddresses is false: no pod could resolve another before it is Ready, and none is Ready before it joins", svc.Name)
		}
		if !selects(svc.Spec.Selector, pod) {
			t.Errorf("Service %s selects %v, not the StatefulSet's pods %v", svc.Name, svc.Spec.Selector, pod)
		}
	}
}

func TestClientServiceRoutesOnlyToReadyPods(t *testing.T) {
	t.Parallel()
	m := load(t)
	pod := m.sts.Spec.Template.Labels
	var clients []*corev1.Service
	for name, svc := range m.services {
		if name != m.sts.Spec.ServiceName {
			clients = append(clients, svc)
		}
	}
	if len(clients) != 1 {
		t.Fatalf("%d Services besides the headless one, want one for clients", len(clients))
	}
	svc := clients[0]
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("Service %s: type %q, clusterIP %q, want a ClusterIP Service with a virtual IP", svc.Name, svc.Spec.Type, svc.Spec.ClusterIP)
	}
	if svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: publishNotReadyAddresses: clients would reach nodes that are not Ready", svc.Name)
	}
	if !selects(svc.Spec.Selector, pod) {
		t.Errorf("Service %s selects %v, not the StatefulSet's pods %v", svc.Name, svc.Spec.Selector, pod)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.TargetPort == intstr.FromString("http") }) {
		t.Errorf("Service %s: no port targets the nodes' HTTP port (named http)", svc.Name)
	}
}

// Kubernetes leaves a $(NAME) it cannot resolve as it is, so a typo in
// one would reach raft-node as a literal "$(POD_NAM)".
func TestEnvReferencesResolve(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		fields := map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "POD_IP": "status.podIP"}
		defined := map[string]bool{}
		for _, e := range n.c.Env {
			for _, r := range refs(e.Value) {
				if !defined[r] {
					t.Errorf("%s: env %s refers to $(%s), not defined before it", n.name, e.Name, r)
				}
			}
			if want, ok := fields[e.Name]; ok {
				if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != want {
					t.Errorf("%s: env %s is not the downward API's %s", n.name, e.Name, want)
				}
				delete(fields, e.Name)
			}
			defined[e.Name] = true
		}
		for name, path := range fields {
			t.Errorf("%s: no env %s (the downward API's %s)", n.name, name, path)
		}
		for _, a := range n.c.Args {
			for _, r := range refs(a) {
				if !defined[r] {
					t.Errorf("%s: arg %q refers to $(%s), which no env defines", n.name, a, r)
				}
			}
		}
	})
}

// The liveness and readiness probes wait for the startup probe, which
// must give a node time to join through the whole backoff schedule, or
// to restart on its Raft state, before the kubelet restarts it.
func TestStartupProbeOutlastsTheJoinBackoff(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		if n.c.StartupProbe == nil {
			t.Fatalf("%s: no startupProbe: liveness would judge a node still joining", n.name)
		}
		p := probeDefaults(*n.c.StartupProbe)
		budget := time.Duration(p.FailureThreshold*p.PeriodSeconds) * time.Second
		if budget < minStartup {
			t.Errorf("%s: the startup probe gives up after %d × %d s = %v, want ≥ %v (the join backoff, %v, and margin)",
				n.name, p.FailureThreshold, p.PeriodSeconds, budget, minStartup, joinBackoff)
		}
	})
}

// The kubelet's grace period starts at deletion and ends with SIGKILL; it
// must hold the preStop sleep, then raft-node's Draining (the leadership
// transfer, then -drain-delay) and Stopping.
func TestGracePeriodCoversPreStopDrainAndStop(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		var sleep time.Duration
		switch pre := n.c.Lifecycle; {
		case pre == nil || pre.PreStop == nil || pre.PreStop.Sleep == nil:
			t.Errorf("%s: no preStop sleep: SIGTERM would come before the endpoints stop routing to the pod", n.name)
		case pre.PreStop.Exec != nil || pre.PreStop.HTTPGet != nil || pre.PreStop.TCPSocket != nil:
			t.Errorf("%s: preStop has another handler besides sleep", n.name)
		default:
			sleep = time.Duration(pre.PreStop.Sleep.Seconds) * time.Second
		}
		drain, err := time.ParseDuration(n.flags["drain-delay"])
		if err != nil || drain <= 0 {
			t.Errorf("%s: -drain-delay %q: want a positive duration (%v)", n.name, n.flags["drain-delay"], err)
		}
		grace := 30 * time.Second // Kubernetes' default
		if g := n.sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		if need := sleep + leaveTimeout + drain + stopTimeout; grace < need {
			t.Errorf("%s: terminationGracePeriodSeconds %v < preStop sleep %v + leadership transfer %v + -drain-delay %v + stopping %v = %v",
				n.name, grace, sleep, leaveTimeout, drain, stopTimeout, need)
		}
	})
}

// -data is on the pod's own claim, in a directory below the volume's
// root: a fresh volume's root may hold lost+found, and raft-node bootstraps
// the lowest seed only when its -data is empty.
func TestRaftStateLivesOnAClaimBelowItsRoot(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		data := filepath.Clean(n.flags["data"])
		claims := map[string]bool{}
		for _, c := range n.sts.Spec.VolumeClaimTemplates {
			claims[c.Name] = true
			if !slices.Contains(c.Spec.AccessModes, corev1.ReadWriteOnce) {
				t.Errorf("%s: claim %s: access modes %v, want ReadWriteOnce", n.name, c.Name, c.Spec.AccessModes)
			}
			if q := c.Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
				t.Errorf("%s: claim %s requests no storage", n.name, c.Name)
			}
		}
		for _, vm := range n.c.VolumeMounts {
			rel, err := filepath.Rel(vm.MountPath, data)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				continue
			}
			if !claims[vm.Name] {
				t.Errorf("%s: -data %s is on volume %s, not on a volumeClaimTemplate: the Raft log would not outlive the pod", n.name, data, vm.Name)
			}
			if rel == "." {
				t.Errorf("%s: -data %s is the volume's root; want a directory below it (lost+found would keep raft-node-0 from bootstrapping)", n.name, data)
			}
			if vm.ReadOnly {
				t.Errorf("%s: -data %s is mounted read-only", n.name, data)
			}
			return
		}
		t.Errorf("%s: -data %q is on no volume mount: the root filesystem is read-only and the state would not outlive the container", n.name, n.flags["data"])
	})
}

func TestContainerIsLockedDown(t *testing.T) {
	t.Parallel()
	eachNode(t, func(t *testing.T, n node) {
		spec := n.sts.Spec.Template.Spec
		pod := spec.SecurityContext
		if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser != nonrootUID ||
			pod.FSGroup == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod securityContext %+v: want runAsNonRoot, runAsUser %d (distroless nonroot), an fsGroup and the RuntimeDefault seccomp profile", n.name, pod, nonrootUID)
		}
		if a := spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("%s: automountServiceAccountToken is not false: the node never calls the API", n.name)
		}
		sc := n.c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no container securityContext", n.name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation,
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem,
			sc.Privileged != nil && *sc.Privileged,
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s: container securityContext %+v: want no privilege escalation, a read-only root filesystem and every capability dropped", n.name, sc)
		}
		r := n.c.Resources
		for _, q := range []struct {
			what string
			v    resource.Quantity
			ok   bool
		}{
			{"requests.cpu", r.Requests[corev1.ResourceCPU], r.Requests.Cpu() != nil && !r.Requests.Cpu().IsZero()},
			{"requests.memory", r.Requests[corev1.ResourceMemory], !r.Requests.Memory().IsZero()},
			{"limits.memory", r.Limits[corev1.ResourceMemory], !r.Limits.Memory().IsZero()},
		} {
			if !q.ok {
				t.Errorf("%s: resources.%s unset", n.name, q.what)
			}
		}
		if _, ok := r.Limits[corev1.ResourceCPU]; ok {
			t.Errorf("%s: a CPU limit: throttling stalls Raft's 300 ms heartbeats into needless elections", n.name)
		}
	})
}

// The gRPC variant changes the readiness probe's handler and nothing else.
func TestGRPCProbePatchChangesOnlyTheReadinessHandler(t *testing.T) {
	t.Parallel()
	m := load(t)
	got := nodeOf(t, variant{grpcPatchFile, m.grpc})
	r := got.c.ReadinessProbe
	if r == nil || r.GRPC == nil || r.HTTPGet != nil {
		t.Fatalf("patched readinessProbe %+v: want a gRPC probe and no HTTP GET", r)
	}
	want := m.sts.DeepCopy()
	want.Spec.Template.Spec.Containers[0].ReadinessProbe.ProbeHandler = r.ProbeHandler
	if !reflect.DeepEqual(m.grpc, want) {
		t.Errorf("%s changes more than the readiness probe's handler:\n got %+v\nwant %+v", grpcPatchFile, m.grpc.Spec.Template.Spec, want.Spec.Template.Spec)
	}
}

// Voluntary disruptions take one pod at a time: a quorum of the three stays.
func TestPodDisruptionBudgetKeepsAQuorum(t *testing.T) {
	t.Parallel()
	m := load(t)
	pdb := m.pdb
	if !labelSelects(t, pdb.Spec.Selector, m.sts.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget %s selects %v, not the StatefulSet's pods", pdb.Name, pdb.Spec.Selector)
	}
	n := replicas(t, m.sts)
	mu := pdb.Spec.MaxUnavailable
	if mu == nil || mu.Type != intstr.Int || pdb.Spec.MinAvailable != nil {
		t.Fatalf("PodDisruptionBudget %s: want maxUnavailable as a number of pods, got maxUnavailable %v, minAvailable %v", pdb.Name, mu, pdb.Spec.MinAvailable)
	}
	if quorum := n/2 + 1; n-int(mu.IntVal) < quorum || mu.IntVal < 1 {
		t.Errorf("PodDisruptionBudget %s: maxUnavailable %d of %d: want ≥ 1 and a quorum of %d left", pdb.Name, mu.IntVal, n, quorum)
	}
}

// The image raft-node.yaml runs is the one Dockerfile builds, as the
// README tells people to build it.
func TestDockerfileBuildsTheImageTheStatefulSetRuns(t *testing.T) {
	t.Parallel()
	m := load(t)
	n := nodeOf(t, variant{manifestFile, m.sts})
	if n.c.Image != "raft-node:dev" || n.c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %q, pull policy %q, want raft-node:dev, IfNotPresent (built locally, never pulled)", n.c.Image, n.c.ImagePullPolicy)
	}
	if len(n.c.Command) > 0 {
		t.Errorf("command %q: the image's ENTRYPOINT, raft-node, should run", n.c.Command)
	}
	f, err := os.Open(dockerFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms, workdirs, envs []string
	var entrypoint string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, rest)
		case "WORKDIR":
			workdirs = append(workdirs, rest)
		case "ENV":
			envs = append(envs, strings.Fields(rest)...)
		case "ENTRYPOINT":
			entrypoint = rest
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"golang:1.26.8-bookworm AS build", "gcr.io/distroless/static-debian12:nonroot"}; !slices.Equal(froms, want) {
		t.Errorf("%s: FROM %q, want %q", dockerFile, froms, want)
	}
	for _, e := range []string{"GOWORK=off", "CGO_ENABLED=0"} {
		if !slices.Contains(envs, e) {
			t.Errorf("%s: no ENV %s", dockerFile, e)
		}
	}
	if entrypoint != `["/raft-node"]` {
		t.Errorf("%s: ENTRYPOINT %s, want [\"/raft-node\"]", dockerFile, entrypoint)
	}
	if !slices.Contains(workdirs, "/src/examples/raft-node") {
		t.Errorf("%s: WORKDIRs %q: raft-node is built in its module's folder, /src/examples/raft-node", dockerFile, workdirs)
	}
	goMod, err := os.ReadFile(filepath.Join(raftNodeDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(goMod)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok && version.Compare("go1.26.8", "go"+v) < 0 {
			t.Errorf("%s: golang:1.26.8 builds a module that needs go %s", dockerFile, v)
		}
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	if build := "docker build -f examples/kubernetes/Dockerfile -t " + n.c.Image + " ."; !strings.Contains(string(readme), build) {
		t.Errorf("%s does not say how to build the image: %q", readmeFile, build)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "examples", "raft-node", "go.mod")); err != nil {
		t.Errorf("the Dockerfile builds from the repository root: %v", err)
	}
}

// The README's table explains every number of the manifest, with the
// value the manifest has: change one and the README must follow.
func TestREADMEExplainsEveryNumber(t *testing.T) {
	t.Parallel()
	m := load(t)
	n := nodeOf(t, variant{manifestFile, m.sts})
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(p *corev1.Probe) corev1.Probe {
		if p == nil {
			return corev1.Probe{}
		}
		return probeDefaults(*p)
	}
	sp, rp, lp := probe(n.c.StartupProbe), probe(n.c.ReadinessProbe), probe(n.c.LivenessProbe)
	var sleep int64
	if l := n.c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		sleep = l.PreStop.Sleep.Seconds
	}
	var grace, maxUnavailable string
	if g := m.sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = strconv.FormatInt(*g, 10)
	}
	if mu := m.pdb.Spec.MaxUnavailable; mu != nil {
		maxUnavailable = mu.String()
	}
	var storage resource.Quantity
	if len(m.sts.Spec.VolumeClaimTemplates) > 0 {
		storage = m.sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	}
	i32 := func(v int32) string { return strconv.Itoa(int(v)) }
	for _, row := range [][2]string{
		{"replicas", strconv.Itoa(replicas(t, m.sts))},
		{"startupProbe.periodSeconds", i32(sp.PeriodSeconds)},
		{"startupProbe.timeoutSeconds", i32(sp.TimeoutSeconds)},
		{"startupProbe.failureThreshold", i32(sp.FailureThreshold)},
		{"readinessProbe.periodSeconds", i32(rp.PeriodSeconds)},
		{"readinessProbe.timeoutSeconds", i32(rp.TimeoutSeconds)},
		{"readinessProbe.failureThreshold", i32(rp.FailureThreshold)},
		{"livenessProbe.periodSeconds", i32(lp.PeriodSeconds)},
		{"livenessProbe.timeoutSeconds", i32(lp.TimeoutSeconds)},
		{"livenessProbe.failureThreshold", i32(lp.FailureThreshold)},
		{"preStop.sleep.seconds", strconv.FormatInt(sleep, 10)},
		{"-drain-delay", n.flags["drain-delay"]},
		{"-leaderless", n.flags["leaderless"]},
		{"terminationGracePeriodSeconds", grace},
		{"maxUnavailable", maxUnavailable},
		{"resources.requests.cpu", n.c.Resources.Requests.Cpu().String()},
		{"resources.requests.memory", n.c.Resources.Requests.Memory().String()},
		{"resources.limits.memory", n.c.Resources.Limits.Memory().String()},
		{"storage", storage.String()},
	} {
		if want := fmt.Sprintf("| `%s` | %s |", row[0], row[1]); !strings.Contains(string(readme), want) {
			t.Errorf("%s has no row %q: explain %s = %s", readmeFile, want, row[0], row[1])
		}
	}
}
