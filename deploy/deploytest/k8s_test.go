package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1/gateway"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

// k8sDecoder decodes core/v1, apps/v1, batch/v1 and policy/v1 objects strictly:
// unknown and duplicate fields are errors, as `kubectl apply
// --validate=strict` makes them.
var k8sDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// manifest is deploy/k8s/a1-gateway.yaml decoded, with what the pod gets
// from outside it: the Secret the documented kubectl command creates and
// the image's ENV (the image is built from deploy/Dockerfile).
type manifest struct {
	cm  *corev1.ConfigMap
	dep *appsv1.Deployment
	svc *corev1.Service
	pdb *policyv1.PodDisruptionBudget
	job *batchv1.Job // the migration Job (PostgreSQL)

	// The Secrets the documented kubectl commands create: the first is the
	// gateway's (secretName, secretKeys).
	secrets    map[string]*kubeSecret
	secretName string
	secretKeys []string
	image      *image
}

// decodeManifest decodes every YAML document of src into a typed object;
// it wants one ConfigMap, Deployment, Service and PodDisruptionBudget, and
// at most one Job.
func decodeManifest(src string, img *image) (*manifest, error) {
	m := &manifest{image: img}
	r := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(src)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(uncommented(doc))) == 0 {
			continue
		}
		obj, gvk, err := k8sDecoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		dup := fmt.Errorf("document %d: a second %s", n, gvk.Kind)
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			err = setOnce(&m.cm, o, dup)
		case *appsv1.Deployment:
			err = setOnce(&m.dep, o, dup)
		case *corev1.Service:
			err = setOnce(&m.svc, o, dup)
		case *policyv1.PodDisruptionBudget:
			err = setOnce(&m.pdb, o, dup)
		case *batchv1.Job:
			err = setOnce(&m.job, o, dup)
		default:
			err = fmt.Errorf("document %d: unexpected %s", n, gvk)
		}
		if err != nil {
			return nil, err
		}
	}
	if m.cm == nil || m.dep == nil || m.svc == nil || m.pdb == nil {
		return nil, errors.New("want a ConfigMap, a Deployment, a Service and a PodDisruptionBudget")
	}
	order, secrets, err := kubectlSecrets(src)
	if err != nil {
		return nil, err
	}
	m.secrets, m.secretName, m.secretKeys = secrets, order[0], secrets[order[0]].keys
	return m, nil
}

// setOnce stores v in *dst, or returns dup when a document of that kind
// was already seen.
func setOnce[T any](dst **T, v *T, dup error) error {
	if *dst != nil {
		return dup
	}
	*dst = v
	return nil
}

func uncommented(doc []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			b.Write(line)
		}
	}
	return b.Bytes()
}

// kubeSecret is a Secret created by a `kubectl create secret generic`
// command in the manifest's comments.
type kubeSecret struct {
	keys     []string
	literals map[string]string // the single-quoted --from-literal values
}

// kubectlSecrets reads the `kubectl create secret generic` commands in the
// manifest's comments, in order.
func kubectlSecrets(src string) (order []string, secrets map[string]*kubeSecret, err error) {
	secrets = map[string]*kubeSecret{}
	var cmd strings.Builder
	flush := func() error {
		defer cmd.Reset()
		f := strings.Fields(cmd.String())
		if len(f) < 5 {
			return fmt.Errorf("%q: no secret name", cmd.String())
		}
		name, ks := f[4], &kubeSecret{literals: map[string]string{}}
		for _, m := range regexp.MustCompile(`--from-literal=([A-Za-z0-9_]+)=('([^']*)')?`).FindAllStringSubmatch(cmd.String(), -1) {
			ks.keys = append(ks.keys, m[1])
			if m[2] != "" {
				ks.literals[m[1]] = m[3]
			}
		}
		if len(ks.keys) == 0 {
			return fmt.Errorf("the kubectl command for secret %s has no --from-literal keys", name)
		}
		if secrets[name] != nil {
			return fmt.Errorf("secret %s is created twice", name)
		}
		order, secrets[name] = append(order, name), ks
		return nil
	}
	for line := range strings.Lines(src) {
		c, ok := strings.CutPrefix(strings.TrimSpace(line), "#")
		if !ok {
			continue
		}
		c = strings.TrimSpace(c)
		if cmd.Len() == 0 && !strings.HasPrefix(c, "kubectl create secret generic ") {
			continue
		}
		cont := strings.HasSuffix(c, `\`)
		cmd.WriteString(strings.TrimSuffix(c, `\`) + " ")
		if !cont {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(order) == 0 {
		return nil, nil, errors.New("the comments document no `kubectl create secret generic NAME` command")
	}
	return order, secrets, nil
}

// testSecretValue is what the test puts in Secret name under key: the
// operator's stand-ins (testSecrets) for the gateway's Secret, otherSecrets
// for the others.
func (m *manifest) testSecretValue(name, key string) (string, error) {
	ks := m.secrets[name]
	if ks == nil {
		return "", fmt.Errorf("Secret %q is not one the documented kubectl commands create", name)
	}
	v, ok := testSecrets[key]
	if name != m.secretName {
		v, ok = otherSecrets[name][key]
	}
	if !ok || !slices.Contains(ks.keys, key) {
		return "", fmt.Errorf("Secret %s has no key %s in the documented kubectl command, or the test has no value for it", name, key)
	}
	return v, nil
}

func (m *manifest) pod() *corev1.PodSpec { return &m.dep.Spec.Template.Spec }

func (m *manifest) container() (*corev1.Container, error) {
	for i, c := range m.pod().Containers {
		if c.Name == "gateway" {
			return &m.pod().Containers[i], nil
		}
	}
	return nil, errors.New("no container named gateway")
}

// env is the environment of the gateway container, assembled as the
// kubelet does: the image's ENV, then envFrom sources in order, then env.
func (m *manifest) env() (map[string]string, error) {
	c, err := m.container()
	if err != nil {
		return nil, err
	}
	return m.envOf(c)
}

// envOf is the environment of container c (of this manifest, running the
// image), assembled as the kubelet does.
func (m *manifest) envOf(c *corev1.Container) (map[string]string, error) {
	var err error
	env := m.image.runEnv()
	secret := m.testSecretValue
	configMap := func(name string) error {
		if name != m.cm.Name {
			return fmt.Errorf("ConfigMap %q is not the manifest's (%q)", name, m.cm.Name)
		}
		return nil
	}
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			if err := configMap(src.ConfigMapRef.Name); err != nil {
				return nil, err
			}
			for k, v := range m.cm.Data {
				env[src.Prefix+k] = v
			}
		case src.SecretRef != nil:
			ks := m.secrets[src.SecretRef.Name]
			if ks == nil {
				return nil, fmt.Errorf("Secret %q is not one the documented kubectl commands create", src.SecretRef.Name)
			}
			for _, k := range ks.keys {
				v, err := secret(src.SecretRef.Name, k)
				if err != nil {
					return nil, err
				}
				env[src.Prefix+k] = v
			}
		default:
			return nil, fmt.Errorf("unsupported envFrom source %+v", src)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			if env[e.Name], err = secret(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key); err != nil {
				return nil, err
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if err := configMap(e.ValueFrom.ConfigMapKeyRef.Name); err != nil {
				return nil, err
			}
			v, ok := m.cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: ConfigMap has no key %s", e.Name, e.ValueFrom.ConfigMapKeyRef.Key)
			}
			env[e.Name] = v
		default:
			return nil, fmt.Errorf("env %s: unsupported valueFrom", e.Name)
		}
	}
	return env, nil
}

func (m *manifest) config() (*gateway.Config, error) {
	env, err := m.env()
	if err != nil {
		return nil, err
	}
	return gatewayConfig(env)
}

// port is the gateway's listening port, which the container must declare.
func (m *manifest) port() (int, *corev1.Container, error) {
	cfg, err := m.config()
	if err != nil {
		return 0, nil, err
	}
	port, err := listenPort(cfg)
	if err != nil {
		return 0, nil, err
	}
	c, err := m.container()
	if err != nil {
		return 0, nil, err
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return int(p.ContainerPort) == port }) {
		return 0, nil, fmt.Errorf("the container declares no port %d (A1_LISTEN %s)", port, cfg.Listen)
	}
	return port, c, nil
}

// resolvePort is the container port a probe or Service targetPort names.
func resolvePort(c *corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port is named %q", p.StrVal)
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) error {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return err
	}
	if s.Empty() || !s.Matches(labels.Set(podLabels)) {
		return fmt.Errorf("selector %q does not select the pod labels %v", s, podLabels)
	}
	return nil
}

var k8sChecks = []check[manifest]{
	{"replicas", func(m *manifest) error {
		if r := m.dep.Spec.Replicas; r == nil || *r < 3 {
			return fmt.Errorf("replicas %s, want at least 3", replicasString(r))
		}
		return nil
	}},
	{"deployment selector", func(m *manifest) error {
		return selects(m.dep.Spec.Selector, m.dep.Spec.Template.Labels)
	}},
	{"pod disruption budget", func(m *manifest) error {
		if err := selects(m.pdb.Spec.Selector, m.dep.Spec.Template.Labels); err != nil {
			return err
		}
		replicas := int(*m.dep.Spec.Replicas)
		// A drain must be able to evict one pod, and one must stay.
		switch {
		case m.pdb.Spec.MinAvailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(m.pdb.Spec.MinAvailable, replicas, true)
			if err != nil || n < 1 || n >= replicas {
				return fmt.Errorf("minAvailable %s of %d replicas: want 1..%d (%v)", m.pdb.Spec.MinAvailable.String(), replicas, replicas-1, err)
			}
		case m.pdb.Spec.MaxUnavailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(m.pdb.Spec.MaxUnavailable, replicas, false)
			if err != nil || n < 1 || n >= replicas {
				return fmt.Errorf("maxUnavailable %s of %d replicas: want 1..%d (%v)", m.pdb.Spec.MaxUnavailable.String(), replicas, replicas-1, err)
			}
		default:
			return errors.New("the budget sets neither minAvailable nor maxUnavailable")
		}
		return nil
	}},
	{"service", func(m *manifest) error {
		if err := selects(&metav1.LabelSelector{MatchLabels: m.svc.Spec.Selector}, m.dep.Spec.Template.Labels); err != nil {
			return err
		}
		port, c, err := m.port()
		if err != nil {
			return err
		}
		if len(m.svc.Spec.Ports) == 0 {
			return errors.New("the Service has no ports")
		}
		for _, sp := range m.svc.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port) // targetPort defaults to port
			}
			got, err := resolvePort(c, target)
			if err != nil {
				return fmt.Errorf("Service port %d: %w", sp.Port, err)
			}
			if got != port {
				return fmt.Errorf("Service port %d targets %d, the gateway listens on %d", sp.Port, got, port)
			}
		}
		return nil
	}},
	{"probes", func(m *manifest) error {
		port, c, err := m.port()
		if err != nil {
			return err
		}
		// Readiness follows storage (/healthz answers 503 while this
		// replica cannot reach it or its schema is missing), so the Service
		// stops routing to a replica that cannot authorize. Liveness must
		// not: /healthz as a liveness probe would restart every replica
		// during a database outage; /livez never looks at storage.
		for _, p := range []struct {
			name, path string
			probe      *corev1.Probe
		}{
			{"readinessProbe", "/healthz", c.ReadinessProbe},
			{"livenessProbe", "/livez", c.LivenessProbe},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				return fmt.Errorf("%s is not an httpGet probe", p.name)
			}
			g := p.probe.HTTPGet
			if g.Path != p.path || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
				return fmt.Errorf("%s GETs %s (scheme %q), want HTTP %s", p.name, g.Path, g.Scheme, p.path)
			}
			got, err := resolvePort(c, g.Port)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if got != port {
				return fmt.Errorf("%s probes port %d, the gateway listens on %d", p.name, got, port)
			}
		}
		// /healthz bounds its storage ping at 1 s; a probe timeout of 1 s
		// (Kubernetes' default, also what 0 means) would fail a slow but
		// successful ping.
		if c.ReadinessProbe.TimeoutSeconds < 2 {
			return fmt.Errorf("readinessProbe timeoutSeconds %d, want at least 2 (/healthz pings storage for up to 1 s)", c.ReadinessProbe.TimeoutSeconds)
		}
		if p := c.StartupProbe; p != nil && (p.HTTPGet == nil || p.HTTPGet.Path == "/healthz" || p.HTTPGet.Path == "/health") {
			return errors.New("startupProbe must GET /readyz")
		}
		// Scraping: the annotations must name the gateway's port and path.
		a := m.dep.Spec.Template.Annotations
		if a["prometheus.io/scrape"] == "true" && (a["prometheus.io/port"] != strconv.Itoa(port) || a["prometheus.io/path"] != "/metrics") {
			return fmt.Errorf("prometheus annotations %s:%s, want %d:/metrics", a["prometheus.io/port"], a["prometheus.io/path"], port)
		}
		return nil
	}},
	{"security context", func(m *manifest) error {
		c, err := m.container()
		if err != nil {
			return err
		}
		return m.hardened(m.pod(), c)
	}},
	{"resources", func(m *manifest) error {
		c, err := m.container()
		if err != nil {
			return err
		}
		return sized(c)
	}},
	{"spread", func(m *manifest) error {
		for _, tc := range m.pod().TopologySpreadConstraints {
			if tc.TopologyKey != "kubernetes.io/hostname" && tc.TopologyKey != "topology.kubernetes.io/zone" {
				continue
			}
			if tc.MaxSkew < 1 {
				return fmt.Errorf("topology spread over %s: maxSkew %d", tc.TopologyKey, tc.MaxSkew)
			}
			return selects(tc.LabelSelector, m.dep.Spec.Template.Labels)
		}
		return errors.New("no topologySpreadConstraints over nodes or zones: the scheduler may put every replica on one node")
	}},
	{"migration job", func(m *manifest) error { return m.checkMigrationJob() }},
	{"gateway config", func(m *manifest) error {
		cfg, err := m.config()
		if err != nil {
			return err
		}
		vars, err := loadGatewayVars()
		if err != nil {
			return err
		}
		for k := range m.cm.Data {
			if vars.envOnly[k] {
				return fmt.Errorf("the ConfigMap carries the secret %s: put it in the Secret", k)
			}
		}
		if cfg.ProxyMode != gateway.ProxyXForwardedFor || len(cfg.TrustedProxies) == 0 {
			return fmt.Errorf("proxy mode %q with trusted proxies %v: behind an ingress the gateway must read X-Forwarded-For from it", cfg.ProxyMode, cfg.TrustedProxies)
		}
		if cfg.Store == gateway.StoreBolt || cfg.Store == gateway.StoreMemory {
			return fmt.Errorf("store %s: replicas must share PostgreSQL or Redis", cfg.Store)
		}
		return nil
	}},
	{"shutdown budget", func(m *manifest) error {
		// The pod must finish preStop, the drain and the audit flush within
		// the grace period, or the kubelet kills it before the audit is
		// flushed.
		cfg, err := m.config()
		if err != nil {
			return err
		}
		c, err := m.container()
		if err != nil {
			return err
		}
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
			return errors.New("no preStop sleep action (distroless has no sleep binary for an exec hook)")
		}
		g := m.pod().TerminationGracePeriodSeconds
		if g == nil {
			return errors.New("terminationGracePeriodSeconds is not set")
		}
		preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		grace := time.Duration(*g) * time.Second
		if need := preStop + 2*cfg.ShutdownTimeout; need > grace {
			return fmt.Errorf("preStop %v + drain and audit flush 2x%v = %v exceeds terminationGracePeriodSeconds %v",
				preStop, cfg.ShutdownTimeout, need, grace)
		}
		return nil
	}},
}

// hardened checks a container's effective security context (its own over
// its pod's): non-root as the image's USER, read-only root filesystem, no
// privilege escalation, every capability dropped, a seccomp profile.
func (m *manifest) hardened(podSpec *corev1.PodSpec, c *corev1.Container) error {
	pod := podSpec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		return fmt.Errorf("container %s has no securityContext", c.Name)
	}
	runAsNonRoot, runAsUser, seccomp := pod.RunAsNonRoot, pod.RunAsUser, pod.SeccompProfile
	if sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	var errs []error
	if runAsNonRoot == nil || !*runAsNonRoot {
		errs = append(errs, errors.New("runAsNonRoot is not true"))
	}
	if runAsUser != nil && (*runAsUser == 0 || *runAsUser != int64(m.image.uid)) {
		errs = append(errs, fmt.Errorf("runAsUser %d is not the image's USER %d", *runAsUser, m.image.uid))
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		errs = append(errs, errors.New("readOnlyRootFilesystem is not true"))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, errors.New("allowPrivilegeEscalation is not false"))
	}
	if sc.Privileged != nil && *sc.Privileged {
		errs = append(errs, errors.New("privileged"))
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		errs = append(errs, fmt.Errorf("capabilities %+v: want drop [ALL] and no add", sc.Capabilities))
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		errs = append(errs, fmt.Errorf("seccompProfile %+v: want RuntimeDefault", seccomp))
	}
	if podSpec.AutomountServiceAccountToken == nil || *podSpec.AutomountServiceAccountToken {
		errs = append(errs, errors.New("the pod mounts a service account token it has no use for"))
	}
	return errors.Join(errs...)
}

// sized checks that a container requests CPU and memory and has a memory
// limit (a CPU limit is optional: throttling) no lower than its request.
func sized(c *corev1.Container) error {
	req, lim := c.Resources.Requests, c.Resources.Limits
	var errs []error
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := req[r]; !ok || q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("container %s: no %s request", c.Name, r))
		}
	}
	if q, ok := lim[corev1.ResourceMemory]; !ok || q.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("container %s: no memory limit", c.Name))
	}
	for r, l := range lim {
		if q, ok := req[r]; ok && l.Cmp(q) < 0 {
			errs = append(errs, fmt.Errorf("container %s: %s limit %s is below the request %s", c.Name, r, l.String(), q.String()))
		}
	}
	return errors.Join(errs...)
}

// checkMigrationJob: on PostgreSQL the replicas run least-privileged
// (ADR 0013): they do not migrate, a Job does, as the schema's owner from
// a Secret of its own, and grants the role the gateway's URL logs in as.
func (m *manifest) checkMigrationJob() error {
	cfg, err := m.config()
	if err != nil {
		return err
	}
	if cfg.Store != gateway.StorePostgres {
		return nil
	}
	if cfg.Migrate {
		return errors.New("the replicas migrate (A1_MIGRATE=true), which needs the owner's credentials in every gateway pod: leave it to the Job")
	}
	job := m.job
	if job == nil {
		return errors.New("no migration Job: nothing migrates the schema")
	}
	ps := &job.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		return fmt.Errorf("the Job has %d containers, want 1", len(ps.Containers))
	}
	c := &ps.Containers[0]
	gw, _ := m.container()
	if c.Image != gw.Image {
		return fmt.Errorf("the Job runs %s, the Deployment %s: migrations must be the gateway release's", c.Image, gw.Image)
	}
	role, err := migrateGrant(c)
	if err != nil {
		return err
	}
	gwURL, err := m.documentedPGURL(m.secretName)
	if err != nil {
		return err
	}
	if gwURL.User.Username() != role {
		return fmt.Errorf("the Job grants %q but the gateway logs in as %q", role, gwURL.User.Username())
	}
	var jobSecret string
	for _, src := range c.EnvFrom {
		if src.SecretRef != nil {
			jobSecret = src.SecretRef.Name
		}
	}
	if jobSecret == "" || jobSecret == m.secretName {
		return fmt.Errorf("the Job reads Secret %q: the owner's credentials need a Secret of their own", jobSecret)
	}
	for _, src := range gw.EnvFrom {
		if src.SecretRef != nil && src.SecretRef.Name == jobSecret {
			return fmt.Errorf("the gateway pods get the owner's Secret %s", jobSecret)
		}
	}
	env, err := m.envOf(c)
	if err != nil {
		return fmt.Errorf("Job: %w", err)
	}
	if env["A1_PG_URL"] == "" {
		return errors.New("the Job has no A1_PG_URL")
	}
	ownerURL, err := m.documentedPGURL(jobSecret)
	if err != nil {
		return err
	}
	if ownerURL.User.Username() == role {
		return fmt.Errorf("the Job migrates as %q, the gateway's own role", role)
	}
	if p := ps.RestartPolicy; p != corev1.RestartPolicyOnFailure && p != corev1.RestartPolicyNever {
		return fmt.Errorf("Job restartPolicy %q", p)
	}
	if err := m.hardened(ps, c); err != nil {
		return fmt.Errorf("Job: %w", err)
	}
	return sized(c)
}

// migrateGrant is the role of the Job's `a1 migrate --grant ROLE`.
func migrateGrant(c *corev1.Container) (string, error) {
	args := slices.Concat(c.Command, c.Args)
	if len(args) == 0 || args[0] != "migrate" {
		return "", fmt.Errorf("the Job runs %q, want `a1 migrate --grant ROLE`", args)
	}
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--grant="); ok {
			return v, nil
		}
		if a == "--grant" && i+1 < len(args) {
			return args[i+1], nil
		}
	}
	return "", fmt.Errorf("the Job runs %q without --grant: the gateway's role gets no privileges", args)
}

// documentedPGURL is the A1_PG_URL the documented kubectl command puts in
// Secret name.
func (m *manifest) documentedPGURL(name string) (*url.URL, error) {
	ks := m.secrets[name]
	if ks == nil || ks.literals["A1_PG_URL"] == "" {
		return nil, fmt.Errorf("the kubectl command for Secret %q documents no A1_PG_URL", name)
	}
	u, err := url.Parse(ks.literals["A1_PG_URL"])
	if err != nil || u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("Secret %s: the documented A1_PG_URL names no user", name)
	}
	return u, nil
}

func replicasString(r *int32) string {
	if r == nil {
		return "unset"
	}
	return strconv.Itoa(int(*r))
}

func k8sSource(t testing.TB) string { return readRepoFile(t, "deploy", "k8s", "a1-gateway.yaml") }

func TestKubernetesManifest(t *testing.T) {
	mustGatewayVars(t)
	m, err := decodeManifest(k8sSource(t), readImageT(t))
	if err != nil {
		t.Fatalf("deploy/k8s/a1-gateway.yaml: %v", err)
	}
	runChecks(t, k8sChecks, m)
}

// TestKubernetesManifestRejects breaks the manifest, in its text or in the
// decoded objects, and requires decoding or the named check to fail.
func TestKubernetesManifestRejects(t *testing.T) {
	mustGatewayVars(t)
	src, img := k8sSource(t), readImageT(t)
	ptr := func(v int64) *int64 { return &v }
	type mutation struct {
		name  string
		check string // "" when decoding must fail
		text  func(string) string
		obj   func(*manifest)
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	env := func(m *manifest, name, value string) {
		c, _ := m.container()
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	for _, tc := range []mutation{
		// Strict decoding.
		{name: "unknown field", text: replace("terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 30\n      terminationGracePeriod: 30")},
		{name: "duplicate field", text: replace("  replicas: 3\n", "  replicas: 3\n  replicas: 2\n")},
		{name: "wrong type", text: replace("replicas: 3", `replicas: "three"`)},
		{name: "unknown kind", text: replace("kind: PodDisruptionBudget", "kind: PodDisruptionBudgets")},
		{name: "no secret command", text: func(s string) string {
			return strings.ReplaceAll(s, "kubectl create secret generic", "kubectl create secret")
		}},
		{name: "secret created twice", text: replace("kubectl create secret generic a1-migrate", "kubectl create secret generic a1-gateway")},
		{name: "missing object", text: func(s string) string { // the PodDisruptionBudget
			i := strings.Index(s, "apiVersion: policy/v1")
			return s[:i] + s[i+strings.Index(s[i:], "---"):]
		}},
		{name: "second job", text: func(s string) string { return s + s[strings.LastIndex(s, "---"):] }},

		{name: "one replica", check: "replicas", obj: func(m *manifest) { *m.dep.Spec.Replicas = 1 }},
		{name: "selector", check: "deployment selector", obj: func(m *manifest) { m.dep.Spec.Selector.MatchLabels["app"] = "other" }},
		{name: "pdb selector", check: "pod disruption budget", obj: func(m *manifest) { m.pdb.Spec.Selector.MatchLabels = map[string]string{"app": "other"} }},
		{name: "pdb blocks drains", check: "pod disruption budget", obj: func(m *manifest) { v := intstr.FromInt32(3); m.pdb.Spec.MinAvailable = &v }},
		{name: "service selector", check: "service", obj: func(m *manifest) { m.svc.Spec.Selector = map[string]string{"app": "a1"} }},
		{name: "service target name", check: "service", obj: func(m *manifest) { m.svc.Spec.Ports[0].TargetPort = intstr.FromString("web") }},
		{name: "service target number", check: "service", obj: func(m *manifest) { m.svc.Spec.Ports[0].TargetPort = intstr.FromInt32(9090) }},
		{name: "listen elsewhere", check: "service", obj: func(m *manifest) { env(m, "A1_LISTEN", ":9090") }},
		{name: "liveness on healthz", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.LivenessProbe.HTTPGet.Path = "/healthz"
		}},
		{name: "readiness path", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.ReadinessProbe.HTTPGet.Path = "/ready"
		}},
		{name: "readiness ignores storage", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.ReadinessProbe.HTTPGet.Path = "/readyz"
		}},
		{name: "liveness on readyz", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.LivenessProbe.HTTPGet.Path = "/readyz"
		}},
		{name: "readiness timeout under the ping", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.ReadinessProbe.TimeoutSeconds = 1
		}},
		{name: "probe port", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8081)
		}},
		{name: "no liveness", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.LivenessProbe = nil
		}},
		{name: "port not declared", check: "probes", obj: func(m *manifest) {
			c, _ := m.container()
			c.Ports[0].ContainerPort = 8081
		}},
		{name: "metrics port", check: "probes", obj: func(m *manifest) { m.dep.Spec.Template.Annotations["prometheus.io/port"] = "9090" }},
		{name: "root allowed", check: "security context", obj: func(m *manifest) { m.pod().SecurityContext.RunAsNonRoot = nil }},
		{name: "root user", check: "security context", obj: func(m *manifest) { m.pod().SecurityContext.RunAsUser = ptr(0) }},
		{name: "writable root", check: "security context", obj: func(m *manifest) {
			c, _ := m.container()
			c.SecurityContext.ReadOnlyRootFilesystem = nil
		}},
		{name: "privilege escalation", check: "security context", obj: func(m *manifest) {
			c, _ := m.container()
			c.SecurityContext.AllowPrivilegeEscalation = nil
		}},
		{name: "capabilities kept", check: "security context", obj: func(m *manifest) {
			c, _ := m.container()
			c.SecurityContext.Capabilities.Drop = []corev1.Capability{"NET_RAW"}
		}},
		{name: "no seccomp", check: "security context", obj: func(m *manifest) { m.pod().SecurityContext.SeccompProfile = nil }},
		{name: "no memory limit", check: "resources", obj: func(m *manifest) {
			c, _ := m.container()
			c.Resources.Limits = nil
		}},
		{name: "limit below request", check: "resources", obj: func(m *manifest) {
			c, _ := m.container()
			c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("64Mi")
		}},
		{name: "no cpu request", check: "resources", obj: func(m *manifest) {
			c, _ := m.container()
			delete(c.Resources.Requests, corev1.ResourceCPU)
		}},
		{name: "misspelt setting", check: "gateway config", obj: func(m *manifest) { m.cm.Data["A1_SHUTDOWN_TIMEOT"] = "10s" }},
		{name: "bad setting", check: "gateway config", obj: func(m *manifest) { m.cm.Data["A1_STORE"] = "mysql" }},
		{name: "embedded store", check: "gateway config", obj: func(m *manifest) { m.cm.Data["A1_STORE"] = "bolt" }},
		{name: "secret in configmap", check: "gateway config", obj: func(m *manifest) { m.cm.Data["A1_ADMIN_TOKEN"] = testSecrets["A1_ADMIN_TOKEN"] }},
		{name: "other configmap", check: "gateway config", obj: func(m *manifest) {
			c, _ := m.container()
			c.EnvFrom[0].ConfigMapRef.Name = "a1"
		}},
		{name: "other secret", check: "gateway config", obj: func(m *manifest) {
			c, _ := m.container()
			c.EnvFrom[1].SecretRef.Name = "a1"
		}},
		{name: "no proxies", check: "gateway config", obj: func(m *manifest) { delete(m.cm.Data, "A1_TRUSTED_PROXIES") }},
		{name: "no spread", check: "spread", obj: func(m *manifest) { m.pod().TopologySpreadConstraints = nil }},
		{name: "spread over other pods", check: "spread", obj: func(m *manifest) {
			m.pod().TopologySpreadConstraints[0].LabelSelector.MatchLabels = map[string]string{"app": "a1-migrate"}
		}},
		{name: "service account token", check: "security context", obj: func(m *manifest) { m.pod().AutomountServiceAccountToken = nil }},
		{name: "replicas migrate", check: "migration job", obj: func(m *manifest) { m.cm.Data["A1_MIGRATE"] = "true" }},
		{name: "no job", check: "migration job", obj: func(m *manifest) { m.job = nil }},
		{name: "job of another release", check: "migration job", obj: func(m *manifest) { m.job.Spec.Template.Spec.Containers[0].Image = "ghcr.io/a1-go/a1:v0.0.9" }},
		{name: "job without grant", check: "migration job", obj: func(m *manifest) {
			m.job.Spec.Template.Spec.Containers[0].Args = []string{"migrate"}
		}},
		{name: "job grants another role", check: "migration job", obj: func(m *manifest) {
			m.job.Spec.Template.Spec.Containers[0].Args = []string{"migrate", "--grant=a1"}
		}},
		{name: "job runs the gateway", check: "migration job", obj: func(m *manifest) {
			m.job.Spec.Template.Spec.Containers[0].Args = []string{"gateway"}
		}},
		{name: "job with the gateway's secret", check: "migration job", obj: func(m *manifest) {
			m.job.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name = "a1-gateway"
		}},
		{name: "gateway with the owner's secret", check: "migration job", obj: func(m *manifest) {
			c, _ := m.container()
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "a1-migrate"}}})
		}},
		{name: "job as the gateway role", check: "migration job", obj: func(m *manifest) {
			m.secrets["a1-migrate"].literals["A1_PG_URL"] = "postgres://a1_gateway:pw@postgres:5432/a1"
		}},
		{name: "job restarts always", check: "migration job", obj: func(m *manifest) { m.job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }},
		{name: "job as root", check: "migration job", obj: func(m *manifest) { m.job.Spec.Template.Spec.SecurityContext.RunAsUser = ptr(0) }},
		{name: "job writable root", check: "migration job", obj: func(m *manifest) {
			m.job.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
		}},
		{name: "job without limits", check: "migration job", obj: func(m *manifest) { m.job.Spec.Template.Spec.Containers[0].Resources.Limits = nil }},
		{name: "grace too short", check: "shutdown budget", obj: func(m *manifest) { m.pod().TerminationGracePeriodSeconds = ptr(20) }},
		{name: "shutdown too long", check: "shutdown budget", obj: func(m *manifest) { env(m, "A1_SHUTDOWN_TIMEOUT", "15s") }},
		{name: "default shutdown", check: "shutdown budget", obj: func(m *manifest) {
			c, _ := m.container()
			c.Env = nil // A1_SHUTDOWN_TIMEOUT falls back to 20s: 5+2x20 > 30
		}},
		{name: "no preStop", check: "shutdown budget", obj: func(m *manifest) {
			c, _ := m.container()
			c.Lifecycle = nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := src
			if tc.text != nil {
				if text = tc.text(src); text == src {
					t.Fatal("the mutation changes nothing in the manifest: update this test")
				}
			}
			m, err := decodeManifest(text, img)
			if tc.check == "" {
				if err == nil {
					t.Fatal("the broken manifest decodes without error")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.obj(m)
			mustReject(t, k8sChecks, tc.check, m)
		})
	}
}

// TestKubernetesEnv pins how the pod environment is assembled: image ENV,
// then envFrom in order, then env.
func TestKubernetesEnv(t *testing.T) {
	m, err := decodeManifest(k8sSource(t), readImageT(t))
	if err != nil {
		t.Fatal(err)
	}
	env, err := m.env()
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(m.image.runEnv())
	maps.Copy(want, m.cm.Data)
	for _, k := range m.secretKeys {
		want[k] = testSecrets[k]
	}
	c, _ := m.container()
	for _, e := range c.Env {
		want[e.Name] = e.Value
	}
	if !maps.Equal(env, want) {
		t.Fatalf("env %v\nwant %v", env, want)
	}
	if env["A1_SHUTDOWN_TIMEOUT"] != "10s" || env["A1_DATA_DIR"] != "/data" || env["A1_ADMIN_TOKEN"] == "" {
		t.Fatalf("env %v: the image ENV, ConfigMap, Secret and env entries are not all there", env)
	}
}
