// Command render renders a Helm chart the way `helm template` does, offline,
// for the deployment checks in tests/deploy. It is a render check, not
// `helm lint` and not Helm: it implements what charts commonly use of Helm's
// template engine on the same libraries Helm is built on (Go text/template
// and sprig), from Debian packages.
//
// What it does like Helm 3:
//   - values: the chart's values.yaml, then each --values file, then each --set
//     and --set-string, merged key by key (later wins; null deletes a default);
//     numbers from YAML files are float64, as Helm's YAML-through-JSON loading
//     makes them, and --set integers are int64, as Helm's strvals parser does;
//   - the objects .Values .Release .Chart .Capabilities .Template;
//   - sprig's functions without env/expandenv, plus include, tpl, required,
//     toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray;
//   - strict missing keys (missingkey=error, as `helm lint --strict` and
//     `helm template` with strict rendering): a template that reads a key the
//     values do not have fails;
//   - Chart.yaml's kubeVersion constraint is checked against --kube-version;
//   - partials (templates/_*.tpl) are parsed and not emitted; NOTES.txt is
//     rendered apart (--notes); empty outputs are dropped; every emitted
//     document must parse as YAML (duplicate keys are errors) and carry
//     apiVersion, kind and metadata.name.
//
// What it does not do: lookup, .Files, subcharts and dependencies, hooks'
// ordering, values.schema.json validation (the tests do that with ajv on the
// values this tool prints with --print-values).
//
// Usage:
//
//	render [flags] CHART_DIR          YAML documents, each after "# Source:"
//	render -o json [flags] CHART_DIR  a JSON array of {"source", "object"}
//	render --notes [flags] CHART_DIR  the rendered NOTES.txt
//	render --print-values [flags] CHART_DIR   the merged values as JSON
//	render yaml2json [FILE|-]         multi-document YAML to a JSON array
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Chart is Chart.yaml, with the field names templates use (.Chart.Name ...).
type Chart struct {
	APIVersion  string            `yaml:"apiVersion"`
	Name        string            `yaml:"name"`
	Version     string            `yaml:"version"`
	AppVersion  string            `yaml:"appVersion"`
	KubeVersion string            `yaml:"kubeVersion"`
	Description string            `yaml:"description"`
	Type        string            `yaml:"type"`
	Home        string            `yaml:"home"`
	Icon        string            `yaml:"icon"`
	Keywords    []string          `yaml:"keywords"`
	Sources     []string          `yaml:"sources"`
	Annotations map[string]string `yaml:"annotations"`
	Maintainers []struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
		URL   string `yaml:"url"`
	} `yaml:"maintainers"`
	Deprecated bool `yaml:"deprecated"`
}

type Release struct {
	Name, Namespace, Service string
	IsInstall, IsUpgrade     bool
	Revision                 int
}

type KubeVersion struct{ Version, Major, Minor, GitVersion string }

func (k KubeVersion) String() string { return k.Version }

// APIVersions answers .Capabilities.APIVersions.Has "group/version" or "group/version/Kind".
type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions APIVersions
	HelmVersion struct{ Version string }
}

// the API versions a stock cluster serves (what Helm assumes without a cluster), plus --api-versions
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"coordination.k8s.io/v1", "discovery.k8s.io/v1", "scheduling.k8s.io/v1",
	"apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1",
}

type options struct {
	valueFiles, sets, setStrings, apiVersions multiFlag
	name, namespace, kubeVersion, output      string
	notes, printValues                        bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "yaml2json" {
		if err := yaml2json(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "render yaml2json:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	fs.Var(&o.valueFiles, "f", "values file (repeatable; later files win)")
	fs.Var(&o.valueFiles, "values", "same as -f")
	fs.Var(&o.sets, "set", "key.path=value (repeatable; comma-separated pairs, Helm's typing)")
	fs.Var(&o.setStrings, "set-string", "key.path=value, always a string (repeatable)")
	fs.Var(&o.apiVersions, "api-versions", "an extra API version for .Capabilities.APIVersions (repeatable)")
	fs.StringVar(&o.name, "name", "release-name", "release name")
	fs.StringVar(&o.namespace, "namespace", "default", "release namespace")
	fs.StringVar(&o.kubeVersion, "kube-version", "v1.30.0", "Kubernetes version for .Capabilities.KubeVersion")
	fs.StringVar(&o.output, "o", "yaml", "output: yaml or json")
	fs.BoolVar(&o.notes, "notes", false, "print the rendered NOTES.txt instead of the manifests")
	fs.BoolVar(&o.printValues, "print-values", false, "print the merged values as JSON instead of rendering")
	// flags may come after the chart directory, as with helm
	args := os.Args[1:]
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			os.Exit(2)
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "usage: render [flags] CHART_DIR   (see the comment at the top of main.go)")
		os.Exit(2)
	}
	out, err := run(positional[0], &o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func run(chartDir string, o *options) ([]byte, error) {
	chart, err := loadChart(chartDir)
	if err != nil {
		return nil, err
	}
	kv, err := parseKubeVersion(o.kubeVersion)
	if err != nil {
		return nil, err
	}
	if chart.KubeVersion != "" {
		c, err := semver.NewConstraint(chart.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("Chart.yaml: kubeVersion %q: %v", chart.KubeVersion, err)
		}
		if !c.Check(semver.MustParse(kv.Version)) {
			return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", chart.KubeVersion, kv.Version)
		}
	}
	values, err := mergedValues(chartDir, o)
	if err != nil {
		return nil, err
	}
	if o.printValues {
		return json.MarshalIndent(values, "", "  ")
	}
	caps := Capabilities{KubeVersion: kv, APIVersions: append(APIVersions(builtinAPIVersions), o.apiVersions...)}
	caps.HelmVersion.Version = "v3 (tests/deploy/render)"
	top := map[string]interface{}{
		"Values":       values,
		"Chart":        chart,
		"Release":      Release{Name: o.name, Namespace: o.namespace, Service: "Helm", IsInstall: true, Revision: 1},
		"Capabilities": caps,
	}
	rendered, notes, err := renderTemplates(chartDir, chart.Name, top)
	if err != nil {
		return nil, err
	}
	if o.notes {
		return []byte(notes), nil
	}
	return emit(rendered, o.output)
}

func parseKubeVersion(s string) (KubeVersion, error) {
	v, err := semver.NewVersion(s)
	if err != nil {
		return KubeVersion{}, fmt.Errorf("--kube-version %q: %v", s, err)
	}
	gv := "v" + v.String()
	return KubeVersion{Version: gv, Major: strconv.FormatUint(v.Major(), 10), Minor: strconv.FormatUint(v.Minor(), 10), GitVersion: gv}, nil
}

func loadChart(dir string) (*Chart, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var c Chart
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	if c.APIVersion != "v2" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion must be v2, not %q", c.APIVersion)
	}
	if c.Name == "" || c.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	if _, err := semver.StrictNewVersion(c.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %v", c.Version, err)
	}
	if c.Name != filepath.Base(filepath.Clean(dir)) {
		return nil, fmt.Errorf("Chart.yaml: name %q does not match the chart directory %q", c.Name, filepath.Base(dir))
	}
	return &c, nil
}

// ---- values -----------------------------------------------------------------

// readValues loads a YAML values file the way Helm does: through JSON, so that
// numbers are float64 and every map is map[string]interface{}.
func readValues(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("%s: the top level must be a map: %v", file, err)
	}
	return m, nil
}

// jsonable turns yaml.v3's map[interface{}]interface{} (non-string keys) into string-keyed maps.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []interface{}:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	}
	return v
}

func mergedValues(chartDir string, o *options) (map[string]interface{}, error) {
	defaults, err := readValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := map[string]interface{}{}
	for _, f := range o.valueFiles {
		m, err := readValues(f)
		if err != nil {
			return nil, err
		}
		user = mergeMaps(user, m)
	}
	for _, s := range o.sets {
		if err := parseSet(s, user, false); err != nil {
			return nil, fmt.Errorf("--set %q: %v", s, err)
		}
	}
	for _, s := range o.setStrings {
		if err := parseSet(s, user, true); err != nil {
			return nil, fmt.Errorf("--set-string %q: %v", s, err)
		}
	}
	return coalesce(user, defaults), nil
}

// mergeMaps: b over a, recursively (Helm's mergeMaps for -f and --set).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bv, ok := v.(map[string]interface{}); ok {
			if av, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(av, bv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce: user values over chart defaults; a null user value removes the default (Helm's coalesceValues).
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		if uv, ok := v.(map[string]interface{}); ok {
			if dv, ok := out[k].(map[string]interface{}); ok {
				out[k] = coalesce(uv, dv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// parseSet applies "a.b[0].c=v,x=y" to m, with Helm's strvals rules: backslash
// escapes a following '.', ',', '=' or '['; {a,b} is a list; unless asString,
// true/false/null and integers without a leading zero are typed.
func parseSet(s string, m map[string]interface{}, asString bool) error {
	for _, pair := range splitUnescaped(s, ',', true) {
		eq := indexUnescaped(pair, '=')
		if eq < 0 {
			return fmt.Errorf("key %q has no value", pair)
		}
		keyPart, raw := pair[:eq], pair[eq+1:]
		var value interface{}
		if !asString && strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			var list []interface{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				list = append(list, typedValue(unescape(item), asString))
			}
			value = list
		} else {
			value = typedValue(unescape(raw), asString)
		}
		path, err := parseKeyPath(keyPart)
		if err != nil {
			return err
		}
		if err := setPath(m, path, value); err != nil {
			return err
		}
	}
	return nil
}

type pathElem struct {
	key   string
	index int // -1: a map key
}

func parseKeyPath(k string) ([]pathElem, error) {
	var out []pathElem
	for _, part := range splitUnescaped(k, '.', false) {
		name := part
		var idx []int
		for {
			open := indexUnescaped(name, '[')
			if open < 0 {
				break
			}
			end := strings.IndexByte(name[open:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated index in %q", part)
			}
			n, err := strconv.Atoi(name[open+1 : open+end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad index in %q", part)
			}
			idx = append(idx, n)
			rest := name[open+end+1:]
			name = name[:open] + rest
		}
		name = unescape(name)
		if name == "" {
			return nil, fmt.Errorf("empty key in %q", k)
		}
		out = append(out, pathElem{key: name, index: -1})
		for _, i := range idx {
			out = append(out, pathElem{index: i})
		}
	}
	return out, nil
}

func setPath(m map[string]interface{}, p []pathElem, value interface{}) error {
	var cur interface{} = m
	var set func(interface{})
	for i, e := range p {
		last := i == len(p)-1
		if e.index < 0 {
			mm, ok := cur.(map[string]interface{})
			if !ok {
				mm = map[string]interface{}{}
				set(mm)
			}
			if last {
				mm[e.key] = value
				return nil
			}
			key := e.key
			set = func(v interface{}) { mm[key] = v }
			cur = mm[key]
			continue
		}
		list, _ := cur.([]interface{})
		for len(list) <= e.index {
			list = append(list, nil)
		}
		set(list)
		if last {
			list[e.index] = value
			return nil
		}
		idx := e.index
		set = func(v interface{}) { list[idx] = v }
		cur = list[idx]
	}
	return nil
}

func typedValue(s string, asString bool) interface{} {
	if asString {
		return s
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if s != "0" && strings.HasPrefix(s, "0") {
		return s
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

func indexUnescaped(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return i
		}
	}
	return -1
}

// splitUnescaped splits at c outside backslash escapes (and, with braces, outside {...}).
func splitUnescaped(s string, c byte, braces bool) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case braces && s[i] == '{':
			depth++
		case braces && s[i] == '}' && depth > 0:
			depth--
		case s[i] == c && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape keeps the escape-free text: "\." -> ".", "\," -> ",", "\\" -> "\".
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- templates --------------------------------------------------------------

type renderedFile struct {
	name    string // e.g. aihub/templates/deployment.yaml
	content string
}

func renderTemplates(chartDir, chartName string, top map[string]interface{}) ([]renderedFile, string, error) {
	tdir := filepath.Join(chartDir, "templates")
	var files []string
	err := filepath.WalkDir(tdir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Strings(files)

	root := template.New("gotpl").Option("missingkey=error")
	funcs := funcMap(root)
	root.Funcs(funcs)
	names := make([]string, 0, len(files))
	for _, f := range files {
		rel, _ := filepath.Rel(chartDir, f)
		name := path.Join(chartName, filepath.ToSlash(rel))
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		if _, err := root.New(name).Parse(string(data)); err != nil {
			return nil, "", fmt.Errorf("parse error in %s: %v", name, err)
		}
		names = append(names, name)
	}

	var out []renderedFile
	notes := ""
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		scope := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			scope[k] = v
		}
		scope["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(chartName, "templates")}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, scope); err != nil {
			return nil, "", fmt.Errorf("render error in %s: %v", name, err)
		}
		if base == "NOTES.txt" {
			notes = buf.String()
			continue
		}
		if strings.TrimSpace(buf.String()) == "" {
			continue
		}
		out = append(out, renderedFile{name: name, content: buf.String()})
	}
	return out, notes, nil
}

const recursionMaxNums = 1000

func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	depth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		if _, err := t.New("tpl").Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "tpl", data); err != nil {
			return "", fmt.Errorf("error calling tpl: %v", err)
		}
		return buf.String(), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		var raw interface{}
		if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
			m["Error"] = err.Error()
			return m
		}
		if mm, ok := jsonable(raw).(map[string]interface{}); ok {
			return mm
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var raw interface{}
		if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
			return []interface{}{err.Error()}
		}
		if a, ok := jsonable(raw).([]interface{}); ok {
			return a
		}
		return []interface{}{}
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	return f
}

// ---- output -----------------------------------------------------------------

// splitDocs splits a rendered file into YAML documents and checks each.
func splitDocs(name, content string) ([]map[string]interface{}, error) {
	dec := yaml.NewDecoder(strings.NewReader(content))
	var docs []map[string]interface{}
	for i := 0; ; i++ {
		var raw interface{}
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %v", name, err)
		}
		if raw == nil {
			continue
		}
		m, ok := jsonable(raw).(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: document %d is not a map", name, i+1)
		}
		for _, k := range []string{"apiVersion", "kind"} {
			if s, _ := m[k].(string); s == "" {
				return nil, fmt.Errorf("%s: document %d has no %s", name, i+1, k)
			}
		}
		meta, _ := m["metadata"].(map[string]interface{})
		if s, _ := meta["name"].(string); s == "" {
			return nil, fmt.Errorf("%s: document %d (%v) has no metadata.name", name, i+1, m["kind"])
		}
		docs = append(docs, m)
	}
	return docs, nil
}

func emit(files []renderedFile, format string) ([]byte, error) {
	var buf bytes.Buffer
	type item struct {
		Source string                 `json:"source"`
		Object map[string]interface{} `json:"object"`
	}
	items := []item{}
	for _, f := range files {
		docs, err := splitDocs(f.name, f.content)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			items = append(items, item{Source: f.name, Object: d})
		}
		if format == "yaml" {
			fmt.Fprintf(&buf, "---\n# Source: %s\n%s", f.name, f.content)
			if !strings.HasSuffix(f.content, "\n") {
				buf.WriteByte('\n')
			}
		}
	}
	switch format {
	case "yaml":
		return buf.Bytes(), nil
	case "json":
		return json.MarshalIndent(items, "", "  ")
	}
	return nil, fmt.Errorf("unknown output format %q (yaml or json)", format)
}

func yaml2json(args []string) error {
	var in io.Reader = os.Stdin
	name := "stdin"
	if len(args) > 0 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, args[0]
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := []interface{}{}
	for {
		var raw interface{}
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if raw != nil {
			docs = append(docs, jsonable(raw))
		}
	}
	out, err := json.MarshalIndent(docs, "", "  ")
	if err != nil {
		return err
	}
	os.Stdout.Write(append(out, '\n'))
	return nil
}
