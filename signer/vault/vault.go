package vault

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	core "github.com/a1-go/a1/signer/internal/kms"
)

// Schemes of this provider: vault (https, or VAULT_ADDR) and vault+http
// (plain HTTP, for development only).
const (
	Scheme     = "vault"
	SchemeHTTP = "vault+http"
)

// Defaults and limits.
const (
	// DefaultSecretIDEnv holds the AppRole secret ID unless secret_id_file
	// is given.
	DefaultSecretIDEnv = "VAULT_SECRET_ID"
	// DefaultKubernetesTokenPath is the pod's service account token.
	DefaultKubernetesTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	// MaxPathLength bounds MOUNT/KEY.
	MaxPathLength = 512
	// MaxKeyVersion bounds a key version number.
	MaxKeyVersion = 1 << 31
)

var pathSegment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Auth methods.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Ref is a parsed vault URI.
type Ref struct {
	Address   string // "" means VAULT_ADDR (or the client's default)
	Mount     string // transit mount path, e.g. "transit"
	Key       string
	Version   int    // 0 means latest at open
	Namespace string // "" means VAULT_NAMESPACE, if set
	Auth      string // token, approle or kubernetes

	RoleID       string // approle
	SecretIDFile string // approle; "" means $VAULT_SECRET_ID
	Role         string // kubernetes
	JWTFile      string // kubernetes; "" means DefaultKubernetesTokenPath
	AuthMount    string // login mount; "" means the method's name
}

// ParseURI parses a URI after its scheme: "MOUNT/KEY[?q]" for scheme vault,
// or "//HOST:PORT/MOUNT/KEY[?q]" for vault (https) and vault+http (http).
func ParseURI(scheme, rest string) (Ref, error) {
	bad := func(format string, a ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: vault: %s", core.ErrInvalidURI, fmt.Sprintf(format, a...))
	}
	var r Ref
	pathPart, query, _ := strings.Cut(rest, "?")
	if strings.ContainsAny(pathPart, "#%") {
		// Segments are [A-Za-z0-9_.-]; url.Parse would drop a fragment
		// and decode escapes.
		return bad("no fragment or %%-escapes in the path")
	}
	switch {
	case strings.HasPrefix(pathPart, "//"):
		u, err := url.Parse(pathPart)
		if err != nil || u.Host == "" || u.User != nil {
			return bad("want //HOST:PORT/MOUNT/KEY")
		}
		proto := "https"
		if scheme == SchemeHTTP {
			proto = "http"
		}
		r.Address = proto + "://" + u.Host
		pathPart = strings.TrimPrefix(u.Path, "/")
	case scheme == SchemeHTTP:
		return bad("vault+http needs //HOST:PORT")
	}
	if len(pathPart) > MaxPathLength {
		return bad("path longer than %d", MaxPathLength)
	}
	segs := strings.Split(pathPart, "/")
	if len(segs) < 2 {
		return bad("want MOUNT/KEY, e.g. transit/a1-root")
	}
	for _, s := range segs {
		if !pathSegment.MatchString(s) || s == "." || s == ".." {
			return bad("bad path segment %q", s)
		}
	}
	r.Mount, r.Key = strings.Join(segs[:len(segs)-1], "/"), segs[len(segs)-1]
	if r.Mount == "sys" || strings.HasPrefix(r.Mount, "sys/") || strings.HasPrefix(r.Mount, "auth/") {
		return bad("mount %q is not a transit mount", r.Mount)
	}

	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("query: %v", err)
	}
	r.Auth = AuthToken
	for k, v := range q {
		if len(v) != 1 || v[0] == "" {
			return bad("parameter %q must be given once, non-empty", k)
		}
		switch val := v[0]; k {
		case "version":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxKeyVersion {
				return bad("version must be a positive integer")
			}
			r.Version = n
		case "namespace":
			r.Namespace = val
		case "auth":
			if val != AuthToken && val != AuthAppRole && val != AuthKubernetes {
				return bad("auth must be token, approle or kubernetes")
			}
			r.Auth = val
		case "role_id":
			r.RoleID = val
		case "secret_id_file":
			r.SecretIDFile = val
		case "role":
			r.Role = val
		case "jwt_file":
			r.JWTFile = val
		case "auth_mount":
			r.AuthMount = val
		default:
			return bad("unknown parameter %q", k)
		}
	}
	switch r.Auth {
	case AuthAppRole:
		if r.RoleID == "" {
			return bad("auth=approle needs role_id")
		}
	case AuthKubernetes:
		if r.Role == "" {
			return bad("auth=kubernetes needs role")
		}
	}
	// A parameter of another auth method is a mistake (e.g. role_id
	// without auth=approle would silently fall back to VAULT_TOKEN).
	for _, p := range []struct {
		name, auth string
		set        bool
	}{
		{"role_id", AuthAppRole, r.RoleID != ""},
		{"secret_id_file", AuthAppRole, r.SecretIDFile != ""},
		{"role", AuthKubernetes, r.Role != ""},
		{"jwt_file", AuthKubernetes, r.JWTFile != ""},
	} {
		if p.set && r.Auth != p.auth {
			return bad("parameter %q needs auth=%s", p.name, p.auth)
		}
	}
	if r.AuthMount != "" && r.Auth == AuthToken {
		return bad("parameter \"auth_mount\" needs auth=approle or auth=kubernetes")
	}
	return r, nil
}

// Config tunes Open.
type Config struct {
	Timeout     time.Duration // per operation, retries included; 0 means 5s
	MaxAttempts int           // attempts for transient failures; 0 means 3
	// HTTPClient replaces the client's HTTP client (custom TLS roots). It
	// is not modified: the signer uses a copy without net/http's redirect
	// following and with response bodies bounded.
	HTTPClient *http.Client
	// Token, if set, is used instead of VAULT_TOKEN for auth=token.
	Token string
	// Sleep replaces the backoff sleep (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Signer is an ed25519 transit key at a pinned version.
type Signer struct {
	core.Remote
	client  *api.Client
	ref     Ref
	login   api.AuthMethod // nil for token auth
	version int

	mu sync.Mutex // serialises re-login
}

// Version returns the pinned key version.
func (s *Signer) Version() int { return s.version }

// Open parses the URI (scheme and the rest after "scheme:"), logs in, reads
// the key and checks that it is an ed25519 key.
func Open(ctx context.Context, scheme, rest string, c Config) (*Signer, error) {
	ref, err := ParseURI(scheme, rest)
	if err != nil {
		return nil, err
	}
	policy := core.Policy{Timeout: c.Timeout, MaxAttempts: c.MaxAttempts, Sleep: c.Sleep}.Normalize()

	cfg := api.DefaultConfig() // reads VAULT_ADDR, VAULT_CACERT, ...
	if cfg.Error != nil {
		return nil, fmt.Errorf("signer: vault: configuration from environment: %w", cfg.Error)
	}
	if ref.Address != "" {
		cfg.Address = ref.Address
	}
	// Our own copy of the HTTP client (the caller's is not modified). The
	// official client follows one redirect itself and refuses an https to
	// http downgrade; net/http's redirect policy must stay off, or it would
	// follow up to 10 redirects to any scheme and host, X-Vault-Token
	// included (it strips only Authorization and Cookie).
	hc := *cfg.HttpClient
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HttpClient = &hc
	cfg.MaxRetries = 0 // retries are ours (core.Do)
	cfg.Timeout = policy.Timeout
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("signer: vault: client: %w", err)
	}
	// Bound response bodies. Wrapped after NewClient, which sets a unix://
	// address's dialer on the *http.Transport itself.
	hc.Transport = core.LimitRoundTripper(hc.Transport)
	if ref.Namespace != "" {
		client.SetNamespace(ref.Namespace)
	}
	s := &Signer{client: client, ref: ref}

	switch ref.Auth {
	case AuthToken:
		if c.Token != "" {
			client.SetToken(c.Token)
		}
		if client.Token() == "" {
			return nil, fmt.Errorf("signer: vault: auth=token but no token (set VAULT_TOKEN)")
		}
	case AuthAppRole:
		sid := &approle.SecretID{FromEnv: DefaultSecretIDEnv}
		if ref.SecretIDFile != "" {
			sid = &approle.SecretID{FromFile: ref.SecretIDFile}
		}
		var opts []approle.LoginOption
		if ref.AuthMount != "" {
			opts = append(opts, approle.WithMountPath(ref.AuthMount))
		}
		s.login, err = approle.NewAppRoleAuth(ref.RoleID, sid, opts...)
	case AuthKubernetes:
		opts := []kubernetes.LoginOption{kubernetes.WithServiceAccountTokenPath(DefaultKubernetesTokenPath)}
		if ref.JWTFile != "" {
			opts[0] = kubernetes.WithServiceAccountTokenPath(ref.JWTFile)
		}
		if ref.AuthMount != "" {
			opts = append(opts, kubernetes.WithMountPath(ref.AuthMount))
		}
		s.login, err = kubernetes.NewKubernetesAuth(ref.Role, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("signer: vault: %s auth: %w", ref.Auth, err)
	}
	if s.login != nil {
		if err := core.Do(ctx, policy, transient, s.doLogin); err != nil {
			return nil, fmt.Errorf("signer: vault: %s login: %w", ref.Auth, err)
		}
	}

	var sec *api.Secret
	keyPath := ref.Mount + "/keys/" + ref.Key
	err = core.Do(ctx, policy, transient, func(ctx context.Context) error {
		var err error
		sec, err = s.withRelogin(ctx, func(ctx context.Context) (*api.Secret, error) {
			return client.Logical().ReadWithContext(ctx, keyPath)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signer: vault: read %s: %w", keyPath, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("signer: vault: read %s: key not found", keyPath)
	}
	pub, version, err := parseKey(sec.Data, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("vault: key %s: %w", keyPath, err)
	}
	s.version = version
	s.Remote = core.Remote{
		Provider:  Scheme,
		ID:        fmt.Sprintf("vault:%s/%s/v%d", ref.Mount, ref.Key, version),
		Pub:       pub,
		Policy:    policy,
		Transient: transient,
		SignOnce:  s.signOnce,
	}
	return s, nil
}

func (s *Signer) doLogin(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.client.Auth().Login(ctx, s.login)
	if err != nil {
		return err
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return errors.New("login returned no token")
	}
	return nil
}

// withRelogin runs op and, for login-based auth, logs in again once if the
// token was refused (expired).
func (s *Signer) withRelogin(ctx context.Context, op func(context.Context) (*api.Secret, error)) (*api.Secret, error) {
	sec, err := op(ctx)
	var re *api.ResponseError
	if err != nil && s.login != nil && errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		if lerr := s.doLogin(ctx); lerr != nil {
			return nil, fmt.Errorf("%w (re-login: %w)", err, lerr)
		}
		return op(ctx)
	}
	return sec, err
}

func (s *Signer) signOnce(ctx context.Context, msg []byte) ([]byte, error) {
	path := s.ref.Mount + "/sign/" + s.ref.Key
	sec, err := s.withRelogin(ctx, func(ctx context.Context) (*api.Secret, error) {
		return s.client.Logical().WriteWithContext(ctx, path, map[string]any{
			"input":       base64.StdEncoding.EncodeToString(msg),
			"key_version": s.version,
		})
	})
	if err != nil {
		return nil, err
	}
	if sec == nil || sec.Data == nil {
		return nil, errors.New("sign: empty response")
	}
	str, _ := sec.Data["signature"].(string)
	return parseSignature(str, s.version)
}

// parseSignature decodes "vault:vN:BASE64" and checks N.
func parseSignature(str string, version int) ([]byte, error) {
	prefix := fmt.Sprintf("vault:v%d:", version)
	b64, ok := strings.CutPrefix(str, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: signature is not of the form %sBASE64", core.ErrBadSignature, prefix)
	}
	if len(b64) > base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, fmt.Errorf("%w: signature too long", core.ErrBadSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", core.ErrBadSignature)
	}
	return sig, nil
}

// parseKey checks the transit key description and returns the public key of
// the wanted version (0: latest).
func parseKey(data map[string]any, want int) (ed25519.PublicKey, int, error) {
	typ, _ := data["type"].(string)
	if typ != "ed25519" {
		return nil, 0, fmt.Errorf("%w: transit key type %q, want ed25519", core.ErrUnsupportedKey, typ)
	}
	if ok, present := data["supports_signing"].(bool); present && !ok {
		return nil, 0, fmt.Errorf("%w: key does not support signing", core.ErrUnsupportedKey)
	}
	version := want
	if version == 0 {
		n, err := toInt(data["latest_version"])
		if err != nil || n < 1 {
			return nil, 0, fmt.Errorf("%w: no latest_version", core.ErrUnsupportedKey)
		}
		version = n
	}
	keys, _ := data["keys"].(map[string]any)
	entry, _ := keys[strconv.Itoa(version)].(map[string]any)
	if entry == nil {
		return nil, 0, fmt.Errorf("%w: version %d not found (trimmed or never created)", core.ErrUnsupportedKey, version)
	}
	pk, _ := entry["public_key"].(string)
	raw, err := base64.StdEncoding.DecodeString(pk)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, 0, fmt.Errorf("%w: version %d has no %d-byte public_key", core.ErrUnsupportedKey, version, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), version, nil
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil || i > MaxKeyVersion {
			return 0, errors.New("bad number")
		}
		return int(i), nil
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// transient: network errors, 5xx, 429 (standby, rate limit) and 412
// (eventual consistency on performance standbys).
func transient(err error) bool {
	if core.IsNetworkError(err) {
		return true
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		c := re.StatusCode
		return c >= 500 || c == http.StatusTooManyRequests || c == http.StatusPreconditionFailed
	}
	return false
}
