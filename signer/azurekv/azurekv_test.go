package azurekv_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/azurekv"
	"github.com/a1-go/a1/signer/signertest"
)

const (
	secret    = "a1-root-seed"
	version   = "0123456789abcdef0123456789abcdef"
	fakeToken = "fake-access-token-never-logged"
)

// fakeVault serves GET /secrets/{name}/{version} of the Key Vault REST API
// over TLS, with the bearer challenge the SDK expects on its first request.
type fakeVault struct {
	seed []byte

	mu       sync.Mutex
	value    string   // secret value; "" means hex(seed)
	failures []int    // next status codes; 0 means hang
	gets     int      // authorized GETs
	paths    []string // request paths seen
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeToken || r.URL.Query().Get("api-version") == "" || r.Method != http.MethodGet {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	f.mu.Lock()
	f.gets++
	f.paths = append(f.paths, r.URL.Path)
	var fail int
	failing := len(f.failures) > 0
	if failing {
		fail, f.failures = f.failures[0], f.failures[1:]
	}
	value := f.value
	f.mu.Unlock()
	if failing {
		if fail == 0 {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		_, _ = w.Write([]byte(`{"error":{"code":"Injected","message":"injected failure"}}`))
		return
	}
	name, ver, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/")
	if name != secret || (ver != "" && ver != version) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"SecretNotFound","message":"not found"}}`))
		return
	}
	if value == "" {
		value = hex.EncodeToString(f.seed)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"value":      value,
		"id":         "https://" + r.Host + "/secrets/" + secret + "/" + version,
		"attributes": map[string]any{"enabled": true},
	})
}

type fakeCredential struct{}

func (fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 || o.Scopes[0] != "https://vault.azure.net/.default" {
		return azcore.AccessToken{}, errors.New("unexpected scopes")
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newFake(t *testing.T) (*fakeVault, *httptest.Server) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i * 7)
	}
	f := &fakeVault{seed: seed}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func noSleep(context.Context, time.Duration) error { return nil }

func config(srv *httptest.Server) azurekv.Config {
	return azurekv.Config{
		Credential: fakeCredential{},
		ClientOptions: &azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: srv.Client()},
			DisableChallengeResourceVerification: true, // the fake is 127.0.0.1, not *.vault.azure.net
		},
		Sleep: noSleep,
	}
}

func uri(srv *httptest.Server, suffix string) string {
	return srv.URL + "/secrets/" + secret + suffix
}

func TestContract(t *testing.T) {
	_, srv := newFake(t)
	signertest.Run(t, func(t *testing.T) signer.Signer {
		s, err := azurekv.Open(context.Background(), uri(srv, ""), config(srv))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSeedFetchedOnceAndNotice(t *testing.T) {
	f, srv := newFake(t)
	s, err := azurekv.Open(context.Background(), uri(srv, "/"+version), config(srv))
	if err != nil {
		t.Fatal(err)
	}
	want := ed25519.NewKeyFromSeed(f.seed).Public().(ed25519.PublicKey)
	if !want.Equal(s.Public()) {
		t.Fatal("public key is not the secret seed's")
	}
	for range 3 {
		if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	if f.gets != 1 || f.paths[0] != "/secrets/"+secret+"/"+version {
		t.Fatalf("GETs %d %v, want one of the pinned version", f.gets, f.paths)
	}
	if got, wantID := s.KeyID(), "azurekv:"+srv.URL+"/secrets/"+secret+"/"+version; got != wantID {
		t.Fatalf("KeyID %q, want %q", got, wantID)
	}
	n := s.Notice()
	if !strings.Contains(n, "no Ed25519") || strings.Contains(n, hex.EncodeToString(f.seed)) {
		t.Fatalf("Notice %q", n)
	}
}

func TestLatestVersionResolved(t *testing.T) {
	_, srv := newFake(t)
	s, err := azurekv.Open(context.Background(), uri(srv, ""), config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(s.KeyID(), "/"+version) {
		t.Fatalf("KeyID %q does not pin the version read", s.KeyID())
	}
}

func TestBadSecret(t *testing.T) {
	for _, value := range []string{
		"not hex at all",
		strings.Repeat("ab", 31),
		strings.Repeat("zz", 32),
		"-----BEGIN EC PRIVATE KEY-----",
		strings.Repeat("a", azurekv.MaxSecretSize+1),
	} {
		f, srv := newFake(t)
		f.value = value
		_, err := azurekv.Open(context.Background(), uri(srv, ""), config(srv))
		if !errors.Is(err, signer.ErrUnsupportedKey) {
			t.Fatalf("Open with secret %.20q = %v, want ErrUnsupportedKey", value, err)
		}
		if len(value) > 8 && strings.Contains(err.Error(), value[:8]) {
			t.Fatalf("error echoes the secret: %v", err)
		}
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures []int
		wantGets int
		wantErr  bool
	}{
		{"503 then ok", []int{503}, 2, false},
		{"429 twice then ok", []int{429, 429}, 3, false},
		{"500 exhausts attempts", []int{500, 500, 500}, 3, true},
		{"403 not retried", []int{403}, 1, true},
		{"404 not retried", []int{404}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			f.failures = tc.failures
			_, err := azurekv.Open(context.Background(), uri(srv, ""), config(srv))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open = %v, want error %v", err, tc.wantErr)
			}
			if f.gets != tc.wantGets {
				t.Fatalf("%d GETs, want %d", f.gets, tc.wantGets)
			}
			if err != nil && strings.Contains(err.Error(), fakeToken) {
				t.Fatal("error leaks the access token")
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	f, srv := newFake(t)
	f.failures = []int{0}
	c := config(srv)
	c.Timeout = 100 * time.Millisecond
	if _, err := azurekv.Open(context.Background(), uri(srv, ""), c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open against a hung vault = %v, want DeadlineExceeded", err)
	}
}

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want azurekv.Ref
	}{
		{"https://v.vault.azure.net/secrets/a1-root", azurekv.Ref{VaultURL: "https://v.vault.azure.net", Name: "a1-root"}},
		{"https://v.vault.azure.net/secrets/a1-root/" + version, azurekv.Ref{VaultURL: "https://v.vault.azure.net", Name: "a1-root", Version: version}},
	} {
		got, err := azurekv.ParseURI(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURI(%q) = %+v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{
		"", "v.vault.azure.net/secrets/x", "http://v.vault.azure.net/secrets/x",
		"https://v.vault.azure.net/keys/x", "https://v.vault.azure.net/secrets/", "https://v.vault.azure.net/secrets/a_b",
		"https://v.vault.azure.net/secrets/x/v/extra", "https://v.vault.azure.net/secrets/x?api-version=1",
		"https://user@v.vault.azure.net/secrets/x",
		"https://v.vault.azure.net/secrets/x?", "https://v.vault.azure.net/secrets/x#",
		"https://v.vault.azure.net/secrets/a%2Fb", "https://v.vault.azure.net/secrets/%61",
		"https://v.vault.azure.net/secrets/x%zz",
	} {
		if _, err := azurekv.ParseURI(bad); !errors.Is(err, signer.ErrInvalidURI) {
			t.Errorf("ParseURI(%q) = %v, want ErrInvalidURI", bad, err)
		}
	}
}

// A vault streaming a huge body is cut off at signer's response bound
// instead of being buffered until the deadline.
func TestHugeResponseRefused(t *testing.T) {
	f, srv := newFake(t)
	f.value = strings.Repeat("a", 4<<20)
	_, err := azurekv.Open(context.Background(), uri(srv, ""), config(srv))
	if err == nil || !strings.Contains(err.Error(), signer.ErrResponseTooLarge.Error()) {
		t.Fatalf("Open against a 4 MiB answer = %.300v, want ErrResponseTooLarge", err)
	}
}
