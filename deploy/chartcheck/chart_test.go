package chartcheck

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/lint/support"
)

const (
	chartDir     = "../helm/rtsp2mjpeg"
	clusterFile  = chartDir + "/values-cluster.yaml"
	release      = "cams"
	namespace    = "video"
	configPath   = "/etc/rtsp2mjpeg/cameras.yml"
	daemonPort   = 8007
	daemonUserID = 10001
)

// scenario is one `helm template` a user would run.
type scenario struct {
	name           string
	release        string // default: release
	files          []string
	set            []string
	cluster        bool
	shards         int    // cluster: the origins expected
	existingSecret string // the secrets.existingSecret expected in envFrom
	autoscaling    bool   // cluster: an HPA for the edges
	edgeReplicas   int    // cluster without HPA
}

var scenarios = []scenario{
	{name: "single"},
	{name: "single-full", files: []string{"testdata/single-full.yaml"}},
	{name: "single-long-release", release: "a-rather-long-release-name-for-the-cameras-of-building-7"},
	{name: "cluster", files: []string{clusterFile}, cluster: true, shards: 2, existingSecret: "rtsp2mjpeg-cameras", autoscaling: true},
	{name: "cluster-shards-3", files: []string{clusterFile}, set: []string{"cluster.shards=3", "ingress.hosts[0].host=cameras.example.org"}, cluster: true, shards: 3, existingSecret: "rtsp2mjpeg-cameras", autoscaling: true},
	{name: "cluster-metrics", files: []string{clusterFile, "testdata/cluster-metrics.yaml"}, cluster: true, shards: 2, existingSecret: "rtsp2mjpeg-cameras", autoscaling: true},
	{name: "cluster-fixed-edges", files: []string{clusterFile, "testdata/cluster-fixed.yaml"}, cluster: true, shards: 2, existingSecret: "rtsp2mjpeg-cameras", edgeReplicas: 3},
	{name: "cluster-long-release", release: "a-rather-long-release-name-for-the-cameras-of-building-7", files: []string{clusterFile}, set: []string{"cluster.shards=12"}, cluster: true, shards: 12, existingSecret: "rtsp2mjpeg-cameras", autoscaling: true},
}

func (s scenario) options() Options {
	r := s.release
	if r == "" {
		r = release
	}
	return Options{Release: r, Namespace: namespace, ValueFiles: s.files, Set: s.set}
}

// TestLint runs `helm lint` for the default values and values-cluster.yaml.
// An error (a template that does not render, a Chart.yaml that Helm
// refuses) fails; so does a warning (an API deprecated at KubeVersion, a
// values or template problem Helm lets through: `helm lint --strict`).
// Info messages (e.g. "icon is recommended") are logged.
func TestLint(t *testing.T) {
	for _, s := range []scenario{scenarios[0], scenarios[3]} {
		t.Run(s.name, func(t *testing.T) {
			msgs, err := Lint(chartDir, s.options())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				switch {
				case m.Severity >= support.WarningSev:
					t.Errorf("helm lint: %s", m)
				default:
					t.Logf("helm lint (info, not a failure): %s", m)
				}
			}
		})
	}
}

// TestValuesFiles: the chart's values files have no duplicate keys (Helm
// would take the last one silently).
func TestValuesFiles(t *testing.T) {
	for _, f := range []string{chartDir + "/values.yaml", clusterFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := yaml.YAMLToJSONStrict(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestRender renders every scenario, decodes every object strictly (in
// Render), and checks what a user would notice.
func TestRender(t *testing.T) {
	var summary []string
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			r, err := Render(chartDir, s.options())
			if err != nil {
				t.Fatal(err)
			}
			x := newIndex(r)
			summary = append(summary, fmt.Sprintf("%-22s %2d objects: %s", s.name, len(r.Objects), x.kindCounts()))
			checkNames(t, x)
			checkWorkloads(t, x, s)
			checkServices(t, x)
			checkPDBs(t, x, s)
			checkIngress(t, x)
			checkServiceMonitor(t, x)
			checkConfig(t, x, s)
			checkSecrets(t, x, s, r.Notes)
			if s.cluster {
				checkCluster(t, x, s)
			} else {
				checkSingle(t, x)
			}
		})
	}
	t.Logf("rendered (kube %s, strict decode into k8s.io/api types):\n%s", KubeVersion, strings.Join(summary, "\n"))
}

// TestRollOnChange: a camera change, and a change of cluster.shards, are
// reloaded in place by --watch-config (no pod template change unless
// configReload.rollOnChange), while what the daemon reads at start only
// (auth) rolls the pods.
func TestRollOnChange(t *testing.T) {
	podAnn := func(t *testing.T, s scenario) map[string]string {
		t.Helper()
		r, err := Render(chartDir, s.options())
		if err != nil {
			t.Fatal(err)
		}
		x := newIndex(r)
		ws := x.workloads()
		if len(ws) == 0 {
			t.Fatal("no workload")
		}
		return ws[0].pod.Annotations
	}
	base := podAnn(t, scenarios[0])
	camera := podAnn(t, scenario{set: []string{"config.cameras[0].fps=5"}})
	auth := podAnn(t, scenario{set: []string{"config.auth.tokens[0]=abc"}})
	if base["checksum/restart"] == "" || base["checksum/config"] != "" {
		t.Errorf("default pod annotations %v: want checksum/restart only", base)
	}
	if camera["checksum/restart"] != base["checksum/restart"] {
		t.Error("a camera change rolls the pods; want it reloaded in place by --watch-config")
	}
	if auth["checksum/restart"] == base["checksum/restart"] {
		t.Error("an auth change does not roll the pods; the daemon reads auth at start only")
	}
	c2 := podAnn(t, scenarios[3])
	c3 := podAnn(t, scenarios[4])
	if c2["checksum/restart"] != c3["checksum/restart"] {
		t.Error("cluster.shards 2 -> 3 rolls every pod; the daemon reloads the cluster section in place")
	}
	roll := podAnn(t, scenario{set: []string{"configReload.rollOnChange=true"}})
	rollCam := podAnn(t, scenario{set: []string{"configReload.rollOnChange=true", "config.cameras[0].fps=5"}})
	if roll["checksum/config"] == "" || roll["checksum/config"] == rollCam["checksum/config"] {
		t.Errorf("rollOnChange: checksum/config %q, after a camera change %q: want set and changed", roll["checksum/config"], rollCam["checksum/config"])
	}
}

// TestRefused: values the chart refuses with a message, at helm install.
func TestRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		set  []string
		want string
	}{
		{"cluster in config", []string{"config.cluster.shards=2"}, "not config.cluster"},
		{"no cameras", []string{"config.cameras=null"}, "config.cameras is empty"},
		{"bad variable name", []string{"secrets.env.door-pass=x"}, "is not an environment variable name"},
		{"zero shards", []string{"cluster.enabled=true", "cluster.shards=0"}, "cluster.shards must be 1 or more"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(chartDir, scenario{set: c.set}.options())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("render with %v: %v; want an error with %q", c.set, err, c.want)
			}
		})
	}
}

// TestNotesWarnMissingVariable: NOTES.txt says when a ${VAR} of the config
// has no Secret or env to come from.
func TestNotesWarnMissingVariable(t *testing.T) {
	r, err := Render(chartDir, scenario{files: []string{clusterFile}, set: []string{"secrets.existingSecret="}}.options())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Notes, "WARNING: the config uses CAM_PASS") {
		t.Errorf("NOTES.txt does not warn that CAM_PASS is given by nothing:\n%s", r.Notes)
	}
	r, err = Render(chartDir, scenarios[1].options())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Notes, "WARNING") {
		t.Errorf("NOTES.txt warns with every variable given:\n%s", r.Notes)
	}
}

// index holds one render's objects by kind.
type index struct {
	objs   []Object
	byKind map[string][]Object
}

func newIndex(r *Rendered) index {
	x := index{objs: r.Objects, byKind: map[string][]Object{}}
	for _, o := range r.Objects {
		x.byKind[o.Kind] = append(x.byKind[o.Kind], o)
	}
	return x
}

func (x index) kindCounts() string {
	var ks []string
	for k, v := range x.byKind {
		ks = append(ks, fmt.Sprintf("%d %s", len(v), k))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func all[T any](x index, kind string) []*T {
	var out []*T
	for _, o := range x.byKind[kind] {
		out = append(out, o.Obj.(*T))
	}
	return out
}

func find[T any](x index, kind, name string) *T {
	for _, o := range x.byKind[kind] {
		if o.Name == name {
			return o.Obj.(*T)
		}
	}
	return nil
}

// workload is a Deployment or StatefulSet: its selector and pod template.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	pod        *corev1.PodTemplateSpec
	replicas   *int32
	component  string
}

func (x index) workloads() []workload {
	var ws []workload
	for _, d := range all[appsv1.Deployment](x, "Deployment") {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Selector, &d.Spec.Template, d.Spec.Replicas, d.Spec.Template.Labels["app.kubernetes.io/component"]})
	}
	for _, s := range all[appsv1.StatefulSet](x, "StatefulSet") {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Selector, &s.Spec.Template, s.Spec.Replicas, s.Spec.Template.Labels["app.kubernetes.io/component"]})
	}
	return ws
}

// selects returns the workloads whose pods sel (a label selector) selects.
func (x index) selects(t *testing.T, sel labels.Selector) []workload {
	t.Helper()
	var out []workload
	for _, w := range x.workloads() {
		if sel.Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func (x index) component(c string) *workload {
	for _, w := range x.workloads() {
		if w.component == c {
			return &w
		}
	}
	return nil
}

// checkNames: names and labels the API server would accept.
func checkNames(t *testing.T, x index) {
	t.Helper()
	for _, o := range x.objs {
		if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
			t.Errorf("%s %q: bad name: %v", o.Kind, o.Name, errs)
		}
		if o.Kind == "Service" || o.Kind == "StatefulSet" {
			// A Service name is a DNS label; so is a StatefulSet's pod name, NAME-I.
			if errs := validation.IsDNS1035Label(o.Name + "-99"); len(errs) > 0 {
				t.Errorf("%s %q: too long for a DNS label (with -I for a pod): %v", o.Kind, o.Name, errs)
			}
		}
		m := metaOf(o)
		for k, v := range m.Labels {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				t.Errorf("%s %s: label key %q: %v", o.Kind, o.Name, k, errs)
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("%s %s: label %s=%q: %v", o.Kind, o.Name, k, v, errs)
			}
		}
	}
}

func metaOf(o Object) metav1.ObjectMeta {
	if sm, ok := o.Obj.(*ServiceMonitor); ok {
		return sm.ObjectMeta
	}
	b, _ := yaml.Marshal(o.Obj)
	var v struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	_ = yaml.Unmarshal(b, &v)
	return v.Metadata
}

// checkWorkloads: every pod template of the chart.
func checkWorkloads(t *testing.T, x index, s scenario) {
	t.Helper()
	ws := x.workloads()
	if len(ws) == 0 {
		t.Fatal("no Deployment or StatefulSet rendered")
	}
	for _, w := range ws {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s %s: selector %v: %v", w.kind, w.name, w.selector, err)
			continue
		}
		if got := x.selects(t, sel); len(got) != 1 || got[0].name != w.name {
			t.Errorf("%s %s: its selector selects the pods of %v; want its own only", w.kind, w.name, names(got))
		}
		want := map[string]string{"single": "", "origin": "auto", "edge": "edge"}
		shard, ok := want[w.component]
		if !ok {
			t.Errorf("%s %s: component label %q", w.kind, w.name, w.component)
		}
		checkPod(t, x, w, shard, s)
	}
}

func names(ws []workload) []string {
	var n []string
	for _, w := range ws {
		n = append(n, w.kind+" "+w.name)
	}
	return n
}

// daemonFlags parses args as the daemon's flag set does (cmd/rtsp2mjpeg
// main.go, and the flags of issue 11): an unknown flag or a stray argument
// is an error.
func daemonFlags(args []string) (map[string]string, error) {
	fs := flag.NewFlagSet("rtsp2mjpeg", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	str := map[string]*string{}
	for _, n := range []string{"url", "config", "listen", "log-level", "log-format", "shard"} {
		str[n] = fs.String(n, "", "")
	}
	demo := fs.Bool("demo", false, "")
	watch := fs.Bool("watch-config", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	out := map[string]string{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	_, _ = demo, watch
	return out, nil
}

var daemonEnv = map[string]func(string) error{
	"RTSP2MJPEG_URL":    func(string) error { return nil },
	"RTSP2MJPEG_CONFIG": func(string) error { return nil },
	"RTSP2MJPEG_LISTEN": func(v string) error {
		_, p, err := net.SplitHostPort(v)
		if err != nil {
			return err
		}
		if p != strconv.Itoa(daemonPort) {
			return fmt.Errorf("port %s; the Dockerfile and the probes use %d", p, daemonPort)
		}
		return nil
	},
	"RTSP2MJPEG_LOG_LEVEL":  oneOf("debug", "info", "warn", "warning", "error"),
	"RTSP2MJPEG_LOG_FORMAT": oneOf("text", "json"),
	"RTSP2MJPEG_SHARD": func(v string) error {
		if v == "auto" || v == "edge" {
			return nil
		}
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return fmt.Errorf("%q: want auto, edge or a shard number", v)
		}
		return nil
	},
	"RTSP2MJPEG_WATCH_CONFIG": oneOf("0", "1", "true", "false"),
}

func oneOf(vs ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(vs, v) {
			return fmt.Errorf("%q: want one of %v", v, vs)
		}
		return nil
	}
}

func checkPod(t *testing.T, x index, w workload, wantShard string, s scenario) {
	t.Helper()
	where := w.kind + " " + w.name
	p := &w.pod.Spec
	if len(p.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", where, len(p.Containers))
	}
	c := p.Containers[0]

	// Security.
	psc := p.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || !is64(psc.RunAsUser, daemonUserID) || !is64(psc.RunAsGroup, daemonUserID) ||
		!is64(psc.FSGroup, daemonUserID) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v: want runAsNonRoot, runAsUser/runAsGroup/fsGroup %d, seccomp RuntimeDefault", where, psc, daemonUserID)
	}
	sc := c.SecurityContext
	if sc == nil || !isFalse(sc.AllowPrivilegeEscalation) || !isTrue(sc.ReadOnlyRootFilesystem) || !isTrue(sc.RunAsNonRoot) ||
		isTrue(sc.Privileged) || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: container securityContext %+v: want no privilege escalation, read-only root, non-root, capabilities drop ALL", where, sc)
	}
	if !isFalse(p.AutomountServiceAccountToken) || !isFalse(p.EnableServiceLinks) {
		t.Errorf("%s: automountServiceAccountToken %s, enableServiceLinks %s: want both false", where, ptrString(p.AutomountServiceAccountToken), ptrString(p.EnableServiceLinks))
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %v: want CPU and memory requests and a memory limit", where, c.Resources)
	}

	// Port and probes.
	ports := map[string]int32{}
	for _, cp := range c.Ports {
		ports[cp.Name] = cp.ContainerPort
	}
	if ports["http"] != daemonPort {
		t.Errorf("%s: ports %v: want http %d", where, c.Ports, daemonPort)
	}
	for _, pr := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"startup", c.StartupProbe, "/healthz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("%s: no %s probe with httpGet", where, pr.name)
			continue
		}
		g := pr.p.HTTPGet
		if g.Path != pr.path || portOf(g.Port, ports) != daemonPort {
			t.Errorf("%s: %s probe GET %s on %s: want %s on %d", where, pr.name, g.Path, g.Port.String(), pr.path, daemonPort)
		}
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Errorf("%s: no preStop hook (endpoints would still send viewers to a stopping pod)", where)
	}

	// Command line.
	if len(c.Command) > 0 {
		t.Errorf("%s: command %v replaces the image's ENTRYPOINT", where, c.Command)
	}
	flags, err := daemonFlags(c.Args)
	if err != nil {
		t.Errorf("%s: args %q: %v", where, c.Args, err)
	}
	if flags["config"] != configPath || flags["watch-config"] != "true" {
		t.Errorf("%s: args %q: want --config %s --watch-config", where, c.Args, configPath)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			continue
		}
		env[e.Name] = e.Value
		if !strings.HasPrefix(e.Name, "RTSP2MJPEG_") {
			continue
		}
		check, ok := daemonEnv[e.Name]
		if !ok {
			t.Errorf("%s: env %s: the daemon reads no such variable", where, e.Name)
			continue
		}
		if err := check(e.Value); err != nil {
			t.Errorf("%s: env %s: %v", where, e.Name, err)
		}
	}
	if _, ok := env["HOSTNAME"]; ok {
		t.Errorf("%s: env HOSTNAME set; --shard auto reads the pod's own hostname from it", where)
	}
	if env["RTSP2MJPEG_SHARD"] != wantShard {
		t.Errorf("%s: RTSP2MJPEG_SHARD=%q, want %q", where, env["RTSP2MJPEG_SHARD"], wantShard)
	}

	// The config: the ConfigMap mounted as a directory.
	vols := map[string]corev1.Volume{}
	for _, v := range p.Volumes {
		vols[v.Name] = v
	}
	found := false
	for _, m := range c.VolumeMounts {
		v := vols[m.Name]
		if v.ConfigMap != nil && m.SubPath != "" {
			t.Errorf("%s: ConfigMap volume %s mounted with subPath %q: it would never see updates", where, m.Name, m.SubPath)
		}
		if m.MountPath != path.Dir(configPath) {
			continue
		}
		found = true
		if v.ConfigMap == nil || m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("%s: %s is not a ConfigMap mounted as a directory: %+v %+v", where, m.MountPath, m, v)
			continue
		}
		if len(v.ConfigMap.Items) > 0 {
			t.Errorf("%s: ConfigMap volume with items %v: keys would be renamed", where, v.ConfigMap.Items)
		}
		cm := find[corev1.ConfigMap](x, "ConfigMap", v.ConfigMap.Name)
		if cm == nil {
			t.Errorf("%s: mounts ConfigMap %s, which the chart does not render", where, v.ConfigMap.Name)
		} else if _, ok := cm.Data[path.Base(configPath)]; !ok {
			t.Errorf("%s: ConfigMap %s has no key %s", where, cm.Name, path.Base(configPath))
		}
	}
	if !found {
		t.Errorf("%s: nothing mounted at %s", where, path.Dir(configPath))
	}
	tmp := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && vols[m.Name].EmptyDir != nil {
			tmp = true
		}
	}
	if !tmp {
		t.Errorf("%s: no emptyDir at /tmp (the root filesystem is read-only)", where)
	}

	// Secrets through envFrom.
	var refs []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef == nil {
			continue
		}
		n := ef.SecretRef.Name
		refs = append(refs, n)
		if n != s.existingSecret && find[corev1.Secret](x, "Secret", n) == nil {
			t.Errorf("%s: envFrom Secret %s: neither rendered nor secrets.existingSecret", where, n)
		}
	}
	for _, sec := range x.byKind["Secret"] {
		if !slices.Contains(refs, sec.Name) {
			t.Errorf("%s: the chart's Secret %s is not in envFrom", where, sec.Name)
		}
	}
	if s.existingSecret != "" && !slices.Contains(refs, s.existingSecret) {
		t.Errorf("%s: envFrom %v lacks secrets.existingSecret %s", where, refs, s.existingSecret)
	}
}

func portOf(p intstr.IntOrString, named map[string]int32) int32 {
	if p.Type == intstr.String {
		return named[p.StrVal]
	}
	return p.IntVal
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }
func is64(v *int64, want int64) bool {
	return v != nil && *v == want
}

// checkServices: each Service selects the pods of one workload, on a port
// they have.
func checkServices(t *testing.T, x index) {
	t.Helper()
	for _, svc := range all[corev1.Service](x, "Service") {
		ws := x.selects(t, labels.SelectorFromSet(svc.Spec.Selector))
		if len(svc.Spec.Selector) == 0 || len(ws) != 1 {
			t.Errorf("Service %s: selector %v selects %v; want one workload", svc.Name, svc.Spec.Selector, names(ws))
			continue
		}
		for _, sp := range svc.Spec.Ports {
			ports := map[string]int32{}
			for _, cp := range ws[0].pod.Spec.Containers[0].Ports {
				ports[cp.Name] = cp.ContainerPort
			}
			if portOf(sp.TargetPort, ports) == 0 {
				t.Errorf("Service %s: targetPort %s is not a port of %s", svc.Name, sp.TargetPort.String(), ws[0].name)
			}
		}
	}
}

func checkPDBs(t *testing.T, x index, s scenario) {
	t.Helper()
	covered := map[string]bool{}
	for _, pdb := range all[policyv1.PodDisruptionBudget](x, "PodDisruptionBudget") {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Errorf("PDB %s: %v", pdb.Name, err)
			continue
		}
		ws := x.selects(t, sel)
		if len(ws) != 1 {
			t.Errorf("PDB %s selects %v; want one workload", pdb.Name, names(ws))
			continue
		}
		covered[ws[0].component] = true
		switch ws[0].component {
		case "origin", "edge":
			if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
				t.Errorf("PDB %s: maxUnavailable %v minAvailable %v; want maxUnavailable 1", pdb.Name, pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
			}
		}
	}
	if s.cluster && (!covered["origin"] || !covered["edge"]) {
		t.Errorf("PDBs cover %v; want origin and edge", covered)
	}
}

func checkIngress(t *testing.T, x index) {
	t.Helper()
	for _, ing := range all[networkingv1.Ingress](x, "Ingress") {
		a := ing.Annotations
		for k, want := range map[string]string{
			"nginx.ingress.kubernetes.io/proxy-buffering":    "off",
			"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
			"nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
			"nginx.ingress.kubernetes.io/upstream-hash-by":   "$uri",
		} {
			if a[k] != want {
				t.Errorf("Ingress %s: annotation %s=%q, want %q", ing.Name, k, a[k], want)
			}
		}
		for _, r := range ing.Spec.Rules {
			if r.Host == "" {
				continue
			}
			if errs := validation.IsDNS1123Subdomain(r.Host); len(errs) > 0 {
				t.Errorf("Ingress %s: host %q: %v", ing.Name, r.Host, errs)
			}
		}
		if len(ing.Spec.Rules) == 0 {
			t.Errorf("Ingress %s: no rules", ing.Name)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil || len(r.HTTP.Paths) == 0 {
				t.Errorf("Ingress %s: rule %q without paths", ing.Name, r.Host)
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				svc := find[corev1.Service](x, "Service", b.Name)
				if svc == nil {
					t.Errorf("Ingress %s: backend Service %s is not rendered", ing.Name, b.Name)
					continue
				}
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == b.Port.Name && b.Port.Name != "" }) {
					t.Errorf("Ingress %s: backend port %+v is not a port of Service %s", ing.Name, b.Port, svc.Name)
				}
				if svc.Spec.ClusterIP == corev1.ClusterIPNone {
					t.Errorf("Ingress %s: backend %s is the origins' headless Service; viewers go to the edges", ing.Name, svc.Name)
				}
			}
		}
	}
}

func checkServiceMonitor(t *testing.T, x index) {
	t.Helper()
	for _, sm := range all[ServiceMonitor](x, "ServiceMonitor") {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Errorf("ServiceMonitor %s: %v", sm.Name, err)
			continue
		}
		var svcs []string
		for _, svc := range all[corev1.Service](x, "Service") {
			if sel.Matches(labels.Set(svc.Labels)) {
				svcs = append(svcs, svc.Name)
			}
		}
		if len(svcs) != len(x.byKind["Service"]) {
			t.Errorf("ServiceMonitor %s selects Services %v of %d: want every pod scraped", sm.Name, svcs, len(x.byKind["Service"]))
		}
		for _, ep := range sm.Spec.Endpoints {
			if ep.Port != "http" || ep.Path != "/metrics" {
				t.Errorf("ServiceMonitor %s: endpoint %s %s, want http /metrics", sm.Name, ep.Port, ep.Path)
			}
		}
	}
}

// varRef is ${NAME} without a default, which the daemon refuses to start
// without.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// cameraConfig returns the rendered cameras.yml.
func cameraConfig(t *testing.T, x index) string {
	t.Helper()
	cms := all[corev1.ConfigMap](x, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps, want 1 for every pod", len(cms))
	}
	return cms[0].Data[path.Base(configPath)]
}

func checkConfig(t *testing.T, x index, s scenario) {
	t.Helper()
	var cfg map[string]any
	if err := yaml.UnmarshalStrict([]byte(cameraConfig(t, x)), &cfg); err != nil {
		t.Fatalf("cameras.yml: %v", err)
	}
	cams, _ := cfg["cameras"].([]any)
	if len(cams) == 0 {
		t.Error("cameras.yml has no cameras")
	}
	_, hasCluster := cfg["cluster"]
	if hasCluster != s.cluster {
		t.Errorf("cameras.yml has a cluster section: %v, want %v", hasCluster, s.cluster)
	}
}

// checkSecrets: every ${VAR} of the config is given by the chart's Secret
// or extraEnv, unless an existing Secret (whose keys the chart cannot see)
// is named; NOTES.txt warns otherwise.
func checkSecrets(t *testing.T, x index, s scenario, notes string) {
	t.Helper()
	given := map[string]bool{}
	for _, sec := range all[corev1.Secret](x, "Secret") {
		for k := range sec.StringData {
			given[k] = true
		}
		for k := range sec.Data {
			given[k] = true
		}
	}
	var missing []string
	for _, m := range varRef.FindAllStringSubmatch(cameraConfig(t, x), -1) {
		if !given[m[1]] {
			missing = append(missing, m[1])
		}
	}
	if s.existingSecret == "" && len(missing) > 0 {
		t.Errorf("the config uses %v, which no Secret gives", missing)
	}
	if (s.existingSecret == "" && len(missing) > 0) != strings.Contains(notes, "WARNING") {
		t.Errorf("NOTES.txt's warning does not match the missing variables %v:\n%s", missing, notes)
	}
}

func checkSingle(t *testing.T, x index) {
	t.Helper()
	ds := all[appsv1.Deployment](x, "Deployment")
	if len(ds) != 1 || len(x.byKind["StatefulSet"]) != 0 || len(x.byKind["HorizontalPodAutoscaler"]) != 0 {
		t.Fatalf("single box: %s; want one Deployment, no StatefulSet, no HPA", x.kindCounts())
	}
	d := ds[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("single box: replicas %s, strategy %s; want 1, Recreate (a camera allows few RTSP sessions)", ptrString(d.Spec.Replicas), d.Spec.Strategy.Type)
	}
	if len(x.byKind["Service"]) != 1 {
		t.Errorf("single box: %d Services, want 1", len(x.byKind["Service"]))
	}
}

func checkCluster(t *testing.T, x index, s scenario) {
	t.Helper()
	stss := all[appsv1.StatefulSet](x, "StatefulSet")
	if len(stss) != 1 {
		t.Fatalf("cluster: %d StatefulSets, want 1 (the origins)", len(stss))
	}
	sts := stss[0]
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != s.shards {
		t.Errorf("origins: replicas %s, want cluster.shards %d", ptrString(sts.Spec.Replicas), s.shards)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("origins: podManagementPolicy %s, want Parallel (every shard starts at once)", sts.Spec.PodManagementPolicy)
	}
	if x.component("origin") == nil || x.component("origin").name != sts.Name {
		t.Errorf("origins: the StatefulSet's pods are not component origin")
	}
	head := find[corev1.Service](x, "Service", sts.Spec.ServiceName)
	if head == nil || head.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("origins: serviceName %q is not a rendered headless Service", sts.Spec.ServiceName)
	}
	if ws := x.selects(t, labels.SelectorFromSet(head.Spec.Selector)); len(ws) != 1 || ws[0].name != sts.Name {
		t.Errorf("headless Service %s selects %v, want the origins", head.Name, names(ws))
	}

	// The config's cluster section names exactly these pods.
	var cfg struct {
		Cluster struct {
			Shards    int    `json:"shards"`
			OriginURL string `json:"origin_url"`
			Shard     string `json:"shard"`
		} `json:"cluster"`
	}
	if err := yaml.Unmarshal([]byte(cameraConfig(t, x)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.Shards != s.shards {
		t.Errorf("config cluster.shards %d, want %d (= StatefulSet replicas)", cfg.Cluster.Shards, s.shards)
	}
	if cfg.Cluster.Shard != "" {
		t.Errorf("config cluster.shard %q: the role comes from RTSP2MJPEG_SHARD per workload", cfg.Cluster.Shard)
	}
	if strings.Count(cfg.Cluster.OriginURL, "{shard}") != 1 {
		t.Fatalf("origin_url %q: want one {shard}", cfg.Cluster.OriginURL)
	}
	for i := range s.shards {
		u, err := url.Parse(strings.ReplaceAll(cfg.Cluster.OriginURL, "{shard}", strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		pod := fmt.Sprintf("%s-%d", sts.Name, i)
		want := fmt.Sprintf("%s.%s.%s.svc.cluster.local", pod, head.Name, namespace)
		if u.Scheme != "http" || u.Hostname() != want || u.Port() != strconv.Itoa(daemonPort) {
			t.Errorf("origin %d: origin_url gives %s, want http://%s:%d (pod %s of StatefulSet %s, headless Service %s)", i, u, want, daemonPort, pod, sts.Name, head.Name)
		}
		if errs := validation.IsDNS1123Label(pod); len(errs) > 0 {
			t.Errorf("origin pod %s: not a DNS label: %v", pod, errs)
		}
	}

	// Edges: a Deployment behind the Service viewers use.
	edge := x.component("edge")
	if edge == nil || edge.kind != "Deployment" {
		t.Fatal("cluster: no edge Deployment")
	}
	var front *corev1.Service
	for _, svc := range all[corev1.Service](x, "Service") {
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			if front != nil {
				t.Errorf("cluster: Services %s and %s both for viewers", front.Name, svc.Name)
			}
			front = svc
		}
	}
	if front == nil {
		t.Fatal("cluster: no Service for the viewers")
	}
	if ws := x.selects(t, labels.SelectorFromSet(front.Spec.Selector)); len(ws) != 1 || ws[0].name != edge.name {
		t.Errorf("Service %s selects %v, want the edges", front.Name, names(ws))
	}
	hpas := all[autoscalingv2.HorizontalPodAutoscaler](x, "HorizontalPodAutoscaler")
	if !s.autoscaling {
		if len(hpas) != 0 || edge.replicas == nil || int(*edge.replicas) != s.edgeReplicas {
			t.Errorf("edges without HPA: %d HPAs, replicas %s; want none, %d", len(hpas), ptrString(edge.replicas), s.edgeReplicas)
		}
		return
	}
	if len(hpas) != 1 {
		t.Fatalf("cluster: %d HPAs, want 1 (edges only)", len(hpas))
	}
	h := hpas[0]
	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != edge.name {
		t.Errorf("HPA %s scales %+v, want the edge Deployment %s", h.Name, ref, edge.name)
	}
	if edge.replicas != nil {
		t.Errorf("edge Deployment sets replicas %d, which would fight the HPA on every helm upgrade", *edge.replicas)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HPA %s: min %s max %d", h.Name, ptrString(h.Spec.MinReplicas), h.Spec.MaxReplicas)
	}
	var metrics []string
	for _, m := range h.Spec.Metrics {
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			metrics = append(metrics, string(m.Resource.Name))
		case autoscalingv2.PodsMetricSourceType:
			if m.Pods.Target.AverageValue == nil || m.Pods.Target.AverageValue.IsZero() {
				t.Errorf("HPA %s: Pods metric %s without averageValue", h.Name, m.Pods.Metric.Name)
			}
			metrics = append(metrics, m.Pods.Metric.Name)
		}
	}
	want := []string{"cpu"}
	if s.name == "cluster-metrics" {
		want = append(want, "rtsp2mjpeg_viewers", "rtsp2mjpeg_sent_bytes_per_second")
	}
	if !slices.Equal(metrics, want) {
		t.Errorf("HPA %s metrics %v, want %v", h.Name, metrics, want)
	}
}
