package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The deployment files in deployments/ (Kubernetes manifests, the compose
// file, systemd units) are checked here against the binary's real flags:
// every role, flag and FERRIC_* variable they use must be one parse()
// accepts, with a value it accepts, so the files cannot drift from the
// binary. Container engines do not run in make test; this is what stands in.

// ferricPath is where the image (deployments/Dockerfile) and the systemd
// units install the binary.
const ferricPath = "/usr/local/bin/ferric"

const deploymentsDir = "../../deployments"

// roleSpec is what the binary accepts for one role.
type roleSpec struct {
	envFlag map[string]string // FERRIC_* variable -> the flag it sets
	envs    map[string]bool   // every FERRIC_* variable parse reads
	flags   map[string]bool
}

var (
	usageFlagLine = regexp.MustCompile(`^  -([a-z0-9][a-z0-9-]*)`)
	usageEnv      = regexp.MustCompile(`\(\$(FERRIC_[A-Z0-9_]+)\)`)
)

// specOf asks parse itself: the variables it reads (through getenv) and the
// flags "ferric <role> -h" prints, each with its variable.
func specOf(t *testing.T, role string) roleSpec {
	t.Helper()
	s := roleSpec{envFlag: map[string]string{}, envs: map[string]bool{}, flags: map[string]bool{}}
	var usage bytes.Buffer
	_, err := parse(role, []string{"-h"}, func(k string) string { s.envs[k] = true; return "" }, &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ferric %s -h: %v", role, err)
	}
	cur := ""
	for line := range strings.SplitSeq(usage.String(), "\n") {
		if m := usageFlagLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
			s.flags[cur] = true
		}
		if m := usageEnv.FindAllStringSubmatch(line, -1); m != nil && cur != "" {
			s.envFlag[m[len(m)-1][1]] = cur
		}
	}
	if len(s.flags) < 20 || len(s.envFlag) < 20 || !s.envs["FERRIC_DATABASE_URL"] {
		t.Fatalf("ferric %s -h: read %d flags, %d variables from\n%s", role, len(s.flags), len(s.envFlag), usage.String())
	}
	return s
}

// invocation is one way a deployment file runs ferric.
type invocation struct {
	where string            // file and object, for messages
	argv  []string          // the binary, the role, flags
	env   map[string]string // the process's environment
	// mounts are the folders mounted into the container (nil: the host's
	// file system, not checked).
	mounts []string
}

// deployCheck validates invocations, keeping one roleSpec per role.
type deployCheck struct {
	t     *testing.T
	specs map[string]roleSpec
	errs  []error
	roles map[string]int // role -> invocations seen
}

func newDeployCheck(t *testing.T) *deployCheck {
	return &deployCheck{t: t, specs: map[string]roleSpec{}, roles: map[string]int{}}
}

func (d *deployCheck) errorf(format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf(format, args...))
}

// check validates inv and returns the configuration parse makes of it
// (ok false when it does not parse).
func (d *deployCheck) check(inv invocation) (config, bool) {
	if len(inv.argv) < 2 || inv.argv[0] != ferricPath {
		d.errorf("%s: command %q: want %s <role> [flags]", inv.where, inv.argv, ferricPath)
		return config{}, false
	}
	role := inv.argv[1]
	switch role {
	case "api", "worker", "boot", "all", "migrate":
	default:
		d.errorf("%s: role %q: want api, worker, boot, all or migrate", inv.where, role)
		return config{}, false
	}
	d.roles[role]++
	spec, ok := d.specs[role]
	if !ok {
		spec = specOf(d.t, role)
		d.specs[role] = spec
	}
	// Variables become flags (before the command line's own, which win as
	// a flag wins over its variable): parse then checks each value as the
	// flag's type, which a variable's silent fallback to the default would
	// not.
	var args []string
	for _, k := range slices.Sorted(mapKeys(inv.env)) {
		switch {
		case !strings.HasPrefix(k, "FERRIC_"):
			d.errorf("%s: environment variable %s is not one of ferric's (FERRIC_*)", inv.where, k)
		case !spec.envs[k]:
			d.errorf("%s: environment variable %s: ferric %s reads no such variable", inv.where, k, role)
		case spec.envFlag[k] != "":
			args = append(args, "-"+spec.envFlag[k]+"="+inv.env[k])
		}
	}
	args = append(args, inv.argv[2:]...)
	var out bytes.Buffer
	cfg, err := parse(role, args, func(k string) string { return inv.env[k] }, &out)
	if err != nil {
		d.errorf("%s: ferric %s %s: %v", inv.where, role, strings.Join(inv.argv[2:], " "), err)
		return config{}, false
	}
	if len(cfg.args) > 0 {
		d.errorf("%s: ferric %s takes no arguments, got %q", inv.where, role, cfg.args)
	}
	// A file the configuration names must be inside a mounted folder.
	if inv.mounts != nil {
		for name, path := range fileFlags(spec, inv) {
			if !slices.ContainsFunc(inv.mounts, func(m string) bool { return within(path, m) }) {
				d.errorf("%s: %s %s is in no mounted volume (%v)", inv.where, name, path, inv.mounts)
			}
		}
	}
	return cfg, true
}

// fileFlags returns the files an invocation names (-*-file flags and their
// variables), by flag or variable name.
func fileFlags(spec roleSpec, inv invocation) map[string]string {
	files := map[string]string{}
	for k, v := range inv.env {
		if strings.HasSuffix(spec.envFlag[k], "-file") && v != "" {
			files[k] = v
		}
	}
	args := inv.argv[2:]
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasSuffix(name, "-file") {
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		if val != "" {
			files["-"+name] = val
		}
	}
	return files
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// listenPort is the port of a host:port listen address.
func listenPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(p)
	return n
}

// probePort is the port a role answers /healthz and /readyz on (0: none).
func probePort(cfg config) int {
	switch {
	case cfg.role == "api" || cfg.role == "all":
		return listenPort(cfg.apiAddr)
	case cfg.healthAddr != "":
		return listenPort(cfg.healthAddr)
	}
	return 0
}

// --- Kubernetes ---

// k8sDecoder decodes manifests strictly with the Kubernetes API's own types:
// an unknown or duplicate field, an unknown kind or apiVersion fails.
func k8sDecoder() *kjson.Serializer {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// validateKubernetes checks every manifest in dir (*.yaml).
func (d *deployCheck) validateKubernetes(dir string) (kinds map[string]int) {
	kinds = map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		d.errorf("%s: no manifests", dir)
	}
	dec := k8sDecoder()
	var objs []runtime.Object
	where := map[runtime.Object]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			d.errorf("%v", err)
			continue
		}
		r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				d.errorf("%s: %v", f, err)
				break
			}
			if isBlankYAML(doc) {
				continue
			}
			obj, gvk, err := dec.Decode(doc, nil, nil)
			if err != nil {
				d.errorf("%s (document %d): %v", filepath.Base(f), i+1, err)
				continue
			}
			kinds[gvk.Kind]++
			objs = append(objs, obj)
			where[obj] = fmt.Sprintf("%s %s/%s", filepath.Base(f), gvk.Kind, metaName(obj))
		}
	}
	configMaps, secrets := map[string]map[string]string{}, map[string]map[string]string{}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			configMaps[o.Name] = o.Data
		case *corev1.Secret:
			data := map[string]string{}
			for k, v := range o.Data {
				data[k] = string(v)
			}
			for k, v := range o.StringData {
				data[k] = v
			}
			secrets[o.Name] = data
		}
	}
	type podOf struct {
		labels map[string]string
		spec   *corev1.PodSpec
	}
	var pods []podOf
	for _, o := range objs {
		var tpl *corev1.PodTemplateSpec
		var sel map[string]string
		switch o := o.(type) {
		case *appsv1.Deployment:
			tpl = &o.Spec.Template
			if o.Spec.Selector != nil {
				sel = o.Spec.Selector.MatchLabels
			}
		case *appsv1.DaemonSet:
			tpl = &o.Spec.Template
			if o.Spec.Selector != nil {
				sel = o.Spec.Selector.MatchLabels
			}
		case *batchv1.Job:
			tpl = &o.Spec.Template
		default:
			continue
		}
		w := where[o]
		for k, v := range sel {
			if tpl.Labels[k] != v {
				d.errorf("%s: selector %s=%s does not match the pod template's labels %v", w, k, v, tpl.Labels)
			}
		}
		pods = append(pods, podOf{tpl.Labels, &tpl.Spec})
		for _, c := range tpl.Spec.Containers {
			d.checkContainer(w+" container "+c.Name, &tpl.Spec, c, configMaps, secrets)
		}
	}
	for _, o := range objs {
		svc, ok := o.(*corev1.Service)
		if !ok {
			continue
		}
		var target *podOf
		for i, p := range pods {
			if len(svc.Spec.Selector) > 0 && labelsMatch(svc.Spec.Selector, p.labels) {
				target = &pods[i]
			}
		}
		if target == nil {
			d.errorf("%s: selector %v selects no pod template", where[o], svc.Spec.Selector)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if containerPort(target.spec.Containers, sp.TargetPort) == 0 {
				d.errorf("%s: targetPort %s is no container port", where[o], sp.TargetPort.String())
			}
		}
	}
	return kinds
}

func metaName(o runtime.Object) string {
	if m, ok := o.(interface{ GetName() string }); ok {
		return m.GetName()
	}
	return "?"
}

func isBlankYAML(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a (named or numbered) port among the containers'.
func containerPort(cs []corev1.Container, p intstr.IntOrString) int {
	for _, c := range cs {
		for _, cp := range c.Ports {
			if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
				return int(cp.ContainerPort)
			}
		}
	}
	return 0
}

// checkContainer checks a container running the ferric image: its command
// and environment against the flags, its probes against the role's health
// endpoints.
func (d *deployCheck) checkContainer(w string, pod *corev1.PodSpec, c corev1.Container,
	configMaps, secrets map[string]map[string]string) {
	if !strings.Contains(c.Image, "/ferric") {
		return
	}
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		var src map[string]string
		var ok bool
		switch {
		case ef.ConfigMapRef != nil:
			src, ok = configMaps[ef.ConfigMapRef.Name]
		case ef.SecretRef != nil:
			src, ok = secrets[ef.SecretRef.Name]
		}
		if !ok {
			d.errorf("%s: envFrom names no ConfigMap or Secret of these manifests", w)
		}
		for k, v := range src {
			env[ef.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch vf := e.ValueFrom; {
		case vf == nil:
			env[e.Name] = e.Value
		case vf.SecretKeyRef != nil:
			v, ok := secrets[vf.SecretKeyRef.Name][vf.SecretKeyRef.Key]
			if !ok {
				d.errorf("%s: %s: Secret %s has no key %s", w, e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			}
			env[e.Name] = v
		case vf.ConfigMapKeyRef != nil:
			v, ok := configMaps[vf.ConfigMapKeyRef.Name][vf.ConfigMapKeyRef.Key]
			if !ok {
				d.errorf("%s: %s: ConfigMap %s has no key %s", w, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
			}
			env[e.Name] = v
		default: // fieldRef, resourceFieldRef: known at run time
			env[e.Name] = "runtime-value"
		}
	}
	mounts := []string{}
	for _, m := range c.VolumeMounts {
		if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			d.errorf("%s: volumeMount %s names no volume", w, m.Name)
		}
		mounts = append(mounts, m.MountPath)
	}
	argv := append(slices.Clone(c.Command), c.Args...)
	cfg, ok := d.check(invocation{where: w, argv: argv, env: env, mounts: mounts})
	if ok && cfg.role == "boot" && !pod.HostNetwork {
		d.errorf("%s: the boot server answers DHCP and TFTP on the provisioning network: hostNetwork: true", w)
	}
	if len(argv) > 1 && argv[1] == "migrate" {
		if c.ReadinessProbe != nil || c.LivenessProbe != nil {
			d.errorf("%s: migrate exits when done: no probes", w)
		}
		return
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			d.errorf("%s: no %s (httpGet %s)", w, p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			d.errorf("%s: %s path %q, want %q", w, p.name, p.probe.HTTPGet.Path, p.path)
		}
		if p.probe.TimeoutSeconds < 3 {
			d.errorf("%s: %s timeoutSeconds %d: readiness checks may take 2 s", w, p.name, p.probe.TimeoutSeconds)
		}
		if !ok {
			continue // the port the role answers on is not known
		}
		if got, want := containerPort([]corev1.Container{c}, p.probe.HTTPGet.Port), probePort(cfg); got == 0 || got != want {
			d.errorf("%s: %s port %s is container port %d; ferric %s answers probes on %d", w, p.name,
				p.probe.HTTPGet.Port.String(), got, cfg.role, want)
		}
	}
}

// --- compose ---

// validateCompose loads the compose file with compose-go (the Compose
// specification's schema: an unknown field fails) and checks its ferric
// services.
func (d *deployCheck) validateCompose(path string) *composetypes.Project {
	abs, _ := filepath.Abs(path)
	details := composetypes.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []composetypes.ConfigFile{{Filename: abs}},
		Environment: map[string]string{},
	}
	p, err := loader.LoadWithContext(d.t.Context(), details, func(o *loader.Options) {
		o.SetProjectName("ferric", true)
	})
	if err != nil {
		d.errorf("%s: %v", filepath.Base(path), err)
		return nil
	}
	for _, name := range slices.Sorted(mapKeys(p.Services)) {
		s := p.Services[name]
		if !strings.Contains(s.Image, "/ferric") {
			continue
		}
		w := filepath.Base(path) + " service " + name
		env := map[string]string{}
		for k, v := range s.Environment {
			if v == nil {
				d.errorf("%s: %s has no value", w, k)
				continue
			}
			env[k] = *v
		}
		mounts := []string{}
		for _, v := range s.Volumes {
			mounts = append(mounts, v.Target)
		}
		cfg, ok := d.check(invocation{where: w, argv: append(slices.Clone(s.Entrypoint), s.Command...), env: env, mounts: mounts})
		if !ok {
			continue
		}
		switch cfg.role {
		case "boot":
			if s.NetworkMode != "host" {
				d.errorf("%s: the boot server needs network_mode: host", w)
			}
		case "migrate":
			if s.Restart != "no" && s.Restart != "" {
				d.errorf("%s: migrate is a one-shot: restart %q", w, s.Restart)
			}
		case "api", "worker":
			dep, ok := s.DependsOn["ferric-migrate"]
			if !ok || dep.Condition != composetypes.ServiceConditionCompletedSuccessfully {
				d.errorf("%s: must start after ferric-migrate completed successfully", w)
			}
		}
	}
	return p
}

// --- systemd ---

// validateSystemd checks the units' ferric commands and the environment
// file they read (ferric.env.example beside them stands for
// /etc/ferric/ferric.env).
func (d *deployCheck) validateSystemd(dir string) (units int) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.service"))
	env, err := readEnvFile(filepath.Join(dir, "ferric.env.example"))
	if err != nil {
		d.errorf("%v", err)
	}
	for _, f := range files {
		units++
		raw, err := os.ReadFile(f)
		if err != nil {
			d.errorf("%v", err)
			continue
		}
		section := ""
		for n, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				section = line
				continue
			}
			key, val, ok := strings.Cut(line, "=")
			if !ok || section != "[Service]" {
				continue
			}
			w := fmt.Sprintf("%s:%d", filepath.Base(f), n+1)
			switch key {
			case "EnvironmentFile":
				if val != "/etc/ferric/ferric.env" {
					d.errorf("%s: EnvironmentFile %s: the units share /etc/ferric/ferric.env (ferric.env.example)", w, val)
				}
			case "ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop":
				argv := strings.Fields(strings.TrimLeft(val, "-+!@:"))
				if len(argv) == 0 || !strings.HasSuffix(argv[0], "/ferric") {
					continue
				}
				d.check(invocation{where: w, argv: argv, env: env})
			}
		}
	}
	return units
}

func readEnvFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME=value", path, line)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env, nil
}

func (d *deployCheck) report() {
	for _, err := range d.errs {
		d.t.Error(err)
	}
}

// TestDeploymentsMatchFlags validates deployments/: the Kubernetes
// manifests decode strictly into the Kubernetes API's types, the compose
// file loads with compose-go, and every ferric command, flag and variable in
// them and in the systemd units is one the binary accepts.
func TestDeploymentsMatchFlags(t *testing.T) {
	t.Parallel()
	t.Run("kubernetes", func(t *testing.T) {
		t.Parallel()
		d := newDeployCheck(t)
		kinds := d.validateKubernetes(filepath.Join(deploymentsDir, "kubernetes"))
		d.report()
		for _, k := range []string{"Deployment", "DaemonSet", "Job", "Service", "ConfigMap", "Secret"} {
			if kinds[k] == 0 {
				t.Errorf("no %s among the manifests (%v)", k, kinds)
			}
		}
		for _, r := range []string{"api", "worker", "boot", "migrate"} {
			if d.roles[r] == 0 {
				t.Errorf("no manifest runs ferric %s (%v)", r, d.roles)
			}
		}
	})
	t.Run("compose", func(t *testing.T) {
		t.Parallel()
		d := newDeployCheck(t)
		p := d.validateCompose(filepath.Join(deploymentsDir, "compose", "compose.yaml"))
		d.report()
		if p == nil {
			return
		}
		if d.roles["api"] < 2 || d.roles["worker"] < 1 || d.roles["boot"] != 1 || d.roles["migrate"] != 1 {
			t.Errorf("compose runs %v; want api ×2, worker, boot and migrate", d.roles)
		}
		images := ""
		for _, s := range p.Services {
			images += s.Image + " "
		}
		for _, img := range []string{"temporalio/auto-setup:", "temporalio/ui:", "postgres:"} {
			if !strings.Contains(images, img) {
				t.Errorf("compose has no %s service: %s", img, images)
			}
		}
	})
	t.Run("systemd", func(t *testing.T) {
		t.Parallel()
		d := newDeployCheck(t)
		if n := d.validateSystemd(filepath.Join(deploymentsDir, "systemd")); n < 4 {
			t.Errorf("%d systemd units; want api, worker, boot and migrate", n)
		}
		d.report()
		for _, r := range []string{"api", "worker", "boot", "migrate"} {
			if d.roles[r] == 0 {
				t.Errorf("no systemd unit runs ferric %s", r)
			}
		}
	})
	t.Run("dockerfile", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(deploymentsDir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `ENTRYPOINT ["`+ferricPath+`"]`) {
			t.Errorf("the Dockerfile's ENTRYPOINT is not %s, the command the manifests run", ferricPath)
		}
	})
}

// TestDeploymentsValidatorCatchesDrift runs the validators over bad copies
// (testdata/deploy-bad): each mistake is reported.
func TestDeploymentsValidatorCatchesDrift(t *testing.T) {
	t.Parallel()
	bad := filepath.Join("testdata", "deploy-bad")
	wantAll := func(t *testing.T, d *deployCheck, want ...string) {
		t.Helper()
		var all []string
		for _, err := range d.errs {
			all = append(all, err.Error())
		}
		joined := strings.Join(all, "\n")
		for _, w := range want {
			if !strings.Contains(joined, w) {
				t.Errorf("no error mentions %q; errors:\n%s", w, joined)
			}
		}
	}
	t.Run("kubernetes unknown field", func(t *testing.T) {
		d := newDeployCheck(t)
		d.validateKubernetes(filepath.Join(bad, "kubernetes-unknown-field"))
		wantAll(t, d, `unknown field "spec.replica"`, `unknown field "spec.template.spec.containers[0].readinessprobe"`)
	})
	t.Run("kubernetes drift", func(t *testing.T) {
		d := newDeployCheck(t)
		d.validateKubernetes(filepath.Join(bad, "kubernetes-drift"))
		wantAll(t, d,
			"flag provided but not defined: -api-adress",
			"environment variable FERRIC_DATABSE_URL: ferric worker reads no such variable",
			`ferric migrate : invalid value "often" for flag -power-sync-interval`,
			`readinessProbe path "/ready", want "/readyz"`,
			"livenessProbe port health is container port 9000; ferric worker answers probes on 6386",
			"FERRIC_SECRETS_KEY_FILE /etc/ferric/secrets.key is in no mounted volume",
			`role "conductor"`,
			"Secret ferric-secrets has no key DATABASE_URL",
			"hostNetwork: true",
			"targetPort http is no container port",
			"refusing to serve an unauthenticated API")
	})
	t.Run("compose unknown field", func(t *testing.T) {
		d := newDeployCheck(t)
		d.validateCompose(filepath.Join(bad, "compose-unknown-field.yaml"))
		wantAll(t, d, "comand")
	})
	t.Run("compose drift", func(t *testing.T) {
		d := newDeployCheck(t)
		d.validateCompose(filepath.Join(bad, "compose-drift.yaml"))
		wantAll(t, d,
			"environment variable FERRIC_TEMPORAL_ADRESS: ferric api reads no such variable",
			"flag provided but not defined: -workers",
			"needs network_mode: host",
			"must start after ferric-migrate completed successfully")
	})
	t.Run("systemd drift", func(t *testing.T) {
		d := newDeployCheck(t)
		d.validateSystemd(filepath.Join(bad, "systemd"))
		wantAll(t, d,
			"flag provided but not defined: -health-adress",
			"environment variable FERRIC_LOGLEVEL: ferric worker reads no such variable",
			"environment variable PGPASSWORD is not one of ferric's")
	})
}
