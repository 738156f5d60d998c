// Package chartcheck lints and renders the Helm chart in deploy/helm/rtsp2mjpeg
// offline, with Helm's own library (what `helm lint` and `helm template`
// run), and decodes every rendered object strictly into its Kubernetes API
// type. Its tests assert what a user of the chart would notice.
//
// It is a module of its own so that Helm and the Kubernetes API modules
// never reach the daemon's binary.
package chartcheck

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
)

// KubeVersion is the cluster version templates and lint are run against:
// the one Helm v3.22's own binary assumes (its client-go is v0.37).
const KubeVersion = "v1.37.0"

// Options are what `helm template` would be given.
type Options struct {
	Release    string   // release name
	Namespace  string   // release namespace
	ValueFiles []string // -f
	Set        []string // --set
}

// Values merges the value files and --set of o, as the helm CLI does
// (pkg/cli/values, whose getters would bring in ~300 more packages to
// build: the registry and OCI clients).
func (o Options) Values() (map[string]any, error) {
	base := map[string]any{}
	for _, f := range o.ValueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		base = mergeMaps(base, v)
	}
	for _, s := range o.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return base, nil
}

// mergeMaps merges b into a, b's values winning, maps merged key by key
// (the helm CLI's rule for -f files).
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Object is one rendered Kubernetes object, decoded into its API type.
type Object struct {
	Source     string // template file it came from
	APIVersion string
	Kind       string
	Name       string
	Obj        any // *appsv1.Deployment, *corev1.Service, ... or *ServiceMonitor
}

// Rendered is the output of one render.
type Rendered struct {
	Objects []Object
	Notes   string // NOTES.txt, rendered
}

// ServiceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor
// the chart writes; any other field is an error when decoding strictly.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			Authorization *struct {
				Type        string                   `json:"type,omitempty"`
				Credentials corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization,omitempty"`
			BasicAuth *struct {
				Username corev1.SecretKeySelector `json:"username"`
				Password corev1.SecretKeySelector `json:"password"`
			} `json:"basicAuth,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kinds maps "apiVersion/kind" to a new value of its API type. A kind the
// chart is not expected to render is an error.
var kinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &ServiceMonitor{} },
}

// Render renders the chart at dir as `helm template` does (install, revision
// 1, KubeVersion) and decodes every object strictly.
func Render(dir string, o Options) (*Rendered, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := o.Values()
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: o.Release, Namespace: o.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	r := &Rendered{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		base := path.Base(name)
		switch {
		case base == "NOTES.txt":
			r.Notes = files[name]
			continue
		case strings.HasPrefix(base, "_"):
			continue
		}
		docs := releaseutil.SplitManifests(files[name])
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			doc := docs[k]
			if strings.TrimSpace(doc) == "" {
				continue
			}
			obj, err := Decode(name, []byte(doc))
			if err != nil {
				return nil, err
			}
			r.Objects = append(r.Objects, obj)
		}
	}
	return r, nil
}

// Decode decodes one YAML document strictly into the API type of its
// apiVersion and kind: unknown or duplicate fields, a wrong type or an
// unknown kind are errors.
func Decode(source string, doc []byte) (Object, error) {
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, fmt.Errorf("%s: not YAML: %w\n%s", source, err, doc)
	}
	key := tm.APIVersion + "/" + tm.Kind
	mk, ok := kinds[key]
	if !ok {
		return Object{}, fmt.Errorf("%s: unexpected kind %q (apiVersion %q)", source, tm.Kind, tm.APIVersion)
	}
	obj := mk()
	if err := decodeStrict(doc, obj); err != nil {
		return Object{}, fmt.Errorf("%s: %s %s: %w\n%s", source, tm.Kind, tm.Metadata.Name, err, doc)
	}
	return Object{Source: source, APIVersion: tm.APIVersion, Kind: tm.Kind, Name: tm.Metadata.Name, Obj: obj}, nil
}

// decodeStrict decodes YAML as the API server does with
// fieldValidation=Strict: duplicate keys, and fields that are not in the
// type (matched case-sensitively: "clusterIp" is not "clusterIP") are errors.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// Lint runs Helm's linters (`helm lint`: Chart.yaml, values, templates
// rendered and parsed, API deprecations for KubeVersion, dependencies)
// with the values of o.
func Lint(dir string, o Options) ([]support.Message, error) {
	vals, err := o.Values()
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	l := lint.AllWithKubeVersion(dir, vals, o.Namespace, kv)
	return l.Messages, nil
}
