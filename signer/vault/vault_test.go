package vault_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/signertest"
	"github.com/a1-go/a1/signer/vault"
)

const rootToken = "hvs.root-token-never-logged"

// fakeVault is a wire-level fake of the transit endpoints and the approle
// and kubernetes logins. The real transit engine is exercised in the
// vaulttest module; this fake injects what a real server would not do
// (wrong signatures, failures, token expiry).
type fakeVault struct {
	keys    map[int]ed25519.PrivateKey // versions
	keyType string

	mu       sync.Mutex
	tokens   map[string]bool
	failures []int // next statuses for sign/keys; 0 means hang
	badSig   bool
	wrongVer bool
	expire   bool // refuse the current tokens once
	logins   int
	signs    int
	reads    int
}

func newFake(t *testing.T) (*fakeVault, *httptest.Server) {
	f := &fakeVault{keys: map[int]ed25519.PrivateKey{}, keyType: "ed25519", tokens: map[string]bool{rootToken: true}}
	for v := 1; v <= 2; v++ {
		_, f.keys[v], _ = ed25519.GenerateKey(nil)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			reply(w, 400, map[string]any{"errors": []string{"bad json"}})
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/auth/approle/login":
		f.logins++
		if in["role_id"] != "role-1" || in["secret_id"] != "secret-1" {
			reply(w, 400, map[string]any{"errors": []string{"invalid role or secret ID"}})
			return
		}
		f.tokens[fmt.Sprint("approle-", f.logins)] = true
		reply(w, 200, map[string]any{"auth": map[string]any{"client_token": fmt.Sprint("approle-", f.logins)}})
		return
	case "/v1/auth/k8s/login":
		f.logins++
		if in["role"] != "a1" || in["jwt"] != "jwt-1" {
			reply(w, 400, map[string]any{"errors": []string{"invalid role or jwt"}})
			return
		}
		f.tokens[fmt.Sprint("k8s-", f.logins)] = true
		reply(w, 200, map[string]any{"auth": map[string]any{"client_token": fmt.Sprint("k8s-", f.logins)}})
		return
	}
	if f.expire {
		f.expire = false
		f.tokens = map[string]bool{}
	}
	if !f.tokens[r.Header.Get("X-Vault-Token")] {
		reply(w, 403, map[string]any{"errors": []string{"permission denied"}})
		return
	}
	if len(f.failures) > 0 {
		fail := f.failures[0]
		f.failures = f.failures[1:]
		if r.URL.Path == "/v1/transit/sign/k" {
			f.signs++
		}
		if fail == 0 {
			f.mu.Unlock()
			<-r.Context().Done()
			f.mu.Lock()
			return
		}
		reply(w, fail, map[string]any{"errors": []string{"injected"}})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/transit/keys/k":
		f.reads++
		keys := map[string]any{}
		for v, k := range f.keys {
			keys[fmt.Sprint(v)] = map[string]any{"name": "ed25519", "public_key": base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))}
		}
		reply(w, 200, map[string]any{"data": map[string]any{"type": f.keyType, "latest_version": len(f.keys), "keys": keys, "supports_signing": true}})
	case (r.Method == http.MethodPut || r.Method == http.MethodPost) && r.URL.Path == "/v1/transit/sign/k":
		f.signs++
		msg, err := base64.StdEncoding.DecodeString(fmt.Sprint(in["input"]))
		ver, _ := in["key_version"].(float64)
		key := f.keys[int(ver)]
		if err != nil || key == nil || in["hash_algorithm"] != nil || in["prehashed"] != nil {
			reply(w, 400, map[string]any{"errors": []string{"bad sign request"}})
			return
		}
		if f.badSig {
			_, key, _ = ed25519.GenerateKey(nil)
		}
		if f.wrongVer {
			ver++
		}
		sig := fmt.Sprintf("vault:v%d:%s", int(ver), base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)))
		reply(w, 200, map[string]any{"data": map[string]any{"signature": sig, "key_version": int(ver)}})
	default:
		reply(w, 404, map[string]any{"errors": []string{}})
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

func cfg() vault.Config { return vault.Config{Token: rootToken, Sleep: noSleep} }

func httpURI(srv *httptest.Server, q string) string {
	return strings.TrimPrefix(srv.URL, "http:") + "/transit/k" + q
}

func open(t *testing.T, srv *httptest.Server, q string, c vault.Config) (*vault.Signer, error) {
	t.Helper()
	return vault.Open(context.Background(), vault.SchemeHTTP, httpURI(srv, q), c)
}

func TestContract(t *testing.T) {
	_, srv := newFake(t)
	signertest.Run(t, func(t *testing.T) signer.Signer {
		s, err := open(t, srv, "", cfg())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestVersions(t *testing.T) {
	f, srv := newFake(t)
	for _, tc := range []struct {
		q    string
		want int
	}{{"", 2}, {"?version=1", 1}, {"?version=2", 2}} {
		s, err := open(t, srv, tc.q, cfg())
		if err != nil {
			t.Fatal(err)
		}
		if s.Version() != tc.want || s.KeyID() != fmt.Sprintf("vault:transit/k/v%d", tc.want) {
			t.Fatalf("%q: version %d, KeyID %q", tc.q, s.Version(), s.KeyID())
		}
		if !f.keys[tc.want].Public().(ed25519.PublicKey).Equal(s.Public()) {
			t.Fatalf("%q: public key is not version %d's", tc.q, tc.want)
		}
		if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := open(t, srv, "?version=3", cfg()); !errors.Is(err, signer.ErrUnsupportedKey) {
		t.Fatalf("missing version: %v", err)
	}
}

func TestThroughSignerOpen(t *testing.T) {
	_, srv := newFake(t)
	t.Setenv("VAULT_TOKEN", rootToken)
	s, err := signer.Open(context.Background(), "vault+http:"+httpURI(srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", srv.URL)
	if _, err := signer.Open(context.Background(), "vault:transit/k"); err != nil {
		t.Fatalf("vault:transit/k with VAULT_ADDR: %v", err)
	}
	t.Setenv("VAULT_TOKEN", "")
	if _, err := signer.Open(context.Background(), "vault:transit/k"); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("no token: %v", err)
	}
}

func TestWrongKeyType(t *testing.T) {
	f, srv := newFake(t)
	f.keyType = "ecdsa-p256"
	_, err := open(t, srv, "", cfg())
	if !errors.Is(err, signer.ErrUnsupportedKey) || !strings.Contains(err.Error(), "ecdsa-p256") {
		t.Fatalf("Open = %v, want ErrUnsupportedKey naming the type", err)
	}
}

func TestBadSignatureRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(f *fakeVault)
	}{
		{"other key", func(f *fakeVault) { f.badSig = true }},
		{"other version", func(f *fakeVault) { f.wrongVer = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			s, err := open(t, srv, "?version=1", cfg())
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			tc.set(f)
			f.mu.Unlock()
			if sig, err := s.Sign(nil, []byte("cert"), crypto.Hash(0)); !errors.Is(err, signer.ErrBadSignature) || sig != nil {
				t.Fatalf("Sign = %x, %v; want ErrBadSignature", sig, err)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  []int
		wantSigns int
		wantErr   bool
	}{
		{"503 then ok", []int{503}, 2, false},
		{"429 and 500 then ok", []int{429, 500}, 3, false},
		{"500 exhausts attempts", []int{500, 500, 500}, 3, true},
		{"400 not retried", []int{400}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			s, err := open(t, srv, "", cfg())
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.failures = tc.failures
			f.mu.Unlock()
			_, err = s.Sign(nil, []byte("m"), crypto.Hash(0))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sign = %v, want error %v", err, tc.wantErr)
			}
			if f.signs != tc.wantSigns {
				t.Fatalf("%d sign calls, want %d", f.signs, tc.wantSigns)
			}
			if err != nil && strings.Contains(err.Error(), rootToken) {
				t.Fatal("error leaks the token")
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	f, srv := newFake(t)
	c := cfg()
	c.Timeout = 100 * time.Millisecond
	s, err := open(t, srv, "", c)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.failures = []int{0}
	f.mu.Unlock()
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sign against a hung Vault = %v, want DeadlineExceeded", err)
	}
}

func TestAppRoleAndRelogin(t *testing.T) {
	f, srv := newFake(t)
	dir := t.TempDir()
	sid := filepath.Join(dir, "secret-id")
	if err := os.WriteFile(sid, []byte("secret-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := open(t, srv, "?auth=approle&role_id=role-1&secret_id_file="+sid, vault.Config{Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	if f.logins != 1 {
		t.Fatalf("%d logins, want 1", f.logins)
	}
	f.mu.Lock()
	f.expire = true
	f.mu.Unlock()
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil {
		t.Fatalf("Sign after token expiry: %v", err)
	}
	if f.logins != 2 {
		t.Fatalf("%d logins, want 2 (re-login after 403)", f.logins)
	}

	t.Setenv(vault.DefaultSecretIDEnv, "wrong")
	if _, err := open(t, srv, "?auth=approle&role_id=role-1", vault.Config{Sleep: noSleep}); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad secret id: %v", err)
	}
}

func TestKubernetes(t *testing.T) {
	f, srv := newFake(t)
	jwt := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwt, []byte("jwt-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := open(t, srv, "?auth=kubernetes&role=a1&auth_mount=k8s&jwt_file="+jwt, vault.Config{Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil || f.logins != 1 {
		t.Fatalf("Sign: %v, %d logins", err, f.logins)
	}
}

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		scheme, in string
		want       vault.Ref
	}{
		{"vault", "transit/a1", vault.Ref{Mount: "transit", Key: "a1", Auth: "token"}},
		{"vault", "team/transit/a1?version=3&namespace=ns1", vault.Ref{Mount: "team/transit", Key: "a1", Version: 3, Namespace: "ns1", Auth: "token"}},
		{"vault", "//vault.internal:8200/transit/a1", vault.Ref{Address: "https://vault.internal:8200", Mount: "transit", Key: "a1", Auth: "token"}},
		{"vault+http", "//127.0.0.1:8200/transit/a1?auth=approle&role_id=r", vault.Ref{Address: "http://127.0.0.1:8200", Mount: "transit", Key: "a1", Auth: "approle", RoleID: "r"}},
		{"vault", "transit/a1?auth=kubernetes&role=a1", vault.Ref{Mount: "transit", Key: "a1", Auth: "kubernetes", Role: "a1"}},
	} {
		got, err := vault.ParseURI(tc.scheme, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURI(%q, %q) = %+v, %v; want %+v", tc.scheme, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][2]string{
		{"vault", ""}, {"vault", "a1"}, {"vault", "transit/../a1"}, {"vault", "transit//a1"},
		{"vault", "sys/a1"}, {"vault", "auth/token/a1"}, {"vault", "transit/a1?version=0"},
		{"vault", "transit/a1?version=x"}, {"vault", "transit/a1?auth=ldap"}, {"vault", "transit/a1?auth=approle"},
		{"vault", "transit/a1?auth=kubernetes"}, {"vault", "transit/a1?typo=1"}, {"vault+http", "transit/a1"},
		{"vault", "//user:pw@host/transit/a1"},
		// Parameters of another auth method are not silently ignored.
		{"vault", "transit/a1?role_id=r"}, {"vault", "transit/a1?role=a1"},
		{"vault", "transit/a1?auth=kubernetes&role=a1&role_id=r"},
		{"vault", "transit/a1?auth=approle&role_id=r&jwt_file=/t"},
		{"vault", "transit/a1?auth_mount=x"}, {"vault", "transit/a1?secret_id_file=/s"},
		// No fragment or escapes in the path (url.Parse would drop or decode them).
		{"vault", "//host:8200/transit/a1#frag"}, {"vault", "//host:8200/transit%2Fa1"},
		{"vault", "//host:8200/transit/%61"}, {"vault", "transit/a1#frag"},
		{"vault", "transit/a1?version=%zz"}, {"vault", "transit/a1?version=1&version=1"},
	} {
		if _, err := vault.ParseURI(bad[0], bad[1]); !errors.Is(err, signer.ErrInvalidURI) {
			t.Errorf("ParseURI(%q, %q) = %v, want ErrInvalidURI", bad[0], bad[1], err)
		}
	}
}

// A Vault reached over TLS with a caller's HTTP client that answers with a
// redirect to a plain-HTTP address must not make the client send the token
// there (the official client refuses such a downgrade itself, but only when
// it keeps its own redirect policy).
func TestRedirectNeverSendsTokenInClear(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Vault-Token"))
		mu.Unlock()
		reply(w, 404, map[string]any{"errors": []string{}})
	}))
	defer sink.Close()
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sink.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c := cfg()
	c.HTTPClient = redirector.Client()
	_, err := vault.Open(context.Background(), vault.Scheme, strings.TrimPrefix(redirector.URL, "https:")+"/transit/k", c)
	if err == nil {
		t.Fatal("Open through a downgrading redirect succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tok := range seen {
		if tok != "" {
			t.Fatalf("the token was sent over plain HTTP after a redirect: %q", tok)
		}
	}
	if redirector.Client().CheckRedirect != nil {
		t.Fatal("the caller's HTTP client was modified")
	}
}

// A server streaming an endless body is cut off at signer's response bound
// instead of being buffered until the deadline.
func TestHugeResponseRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"type":"ed25519","pad":"`))
		chunk := []byte(strings.Repeat("A", 64<<10))
		for i := 0; i < 64; i++ { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}}`))
	}))
	defer srv.Close()
	_, err := open(t, srv, "", cfg())
	if !errors.Is(err, signer.ErrResponseTooLarge) {
		t.Fatalf("Open against a 4 MiB answer = %v, want ErrResponseTooLarge", err)
	}
}
