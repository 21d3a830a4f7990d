package vault_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/vault"
)

var segment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// FuzzParseURI: ParseURI never panics, fails only with ErrInvalidURI, and
// what it accepts is a well-formed transit path with a known auth method.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"transit/a1", "team/transit/a1?version=3&namespace=ns1", "//vault.internal:8200/transit/a1",
		"//127.0.0.1:8200/transit/a1?auth=approle&role_id=r&secret_id_file=/s",
		"transit/a1?auth=kubernetes&role=a1&jwt_file=/t&auth_mount=k8s", "transit/a1?version=%zz",
		"//h/transit%2Fa1#x", "transit/a1?role_id=r", "sys/x", "//u:p@h/t/k",
	} {
		f.Add(vault.Scheme, s)
		f.Add(vault.SchemeHTTP, s)
	}
	f.Fuzz(func(t *testing.T, scheme, rest string) {
		if scheme != vault.Scheme {
			scheme = vault.SchemeHTTP
		}
		r, err := vault.ParseURI(scheme, rest)
		if err != nil {
			if !errors.Is(err, signer.ErrInvalidURI) {
				t.Fatalf("error %v is not ErrInvalidURI", err)
			}
			return
		}
		for _, s := range append(strings.Split(r.Mount, "/"), r.Key) {
			if !segment.MatchString(s) || s == "." || s == ".." {
				t.Fatalf("accepted path segment %q", s)
			}
		}
		if r.Mount == "sys" || strings.HasPrefix(r.Mount, "sys/") || strings.HasPrefix(r.Mount, "auth/") {
			t.Fatalf("accepted mount %q", r.Mount)
		}
		switch r.Auth {
		case vault.AuthToken:
			if r.RoleID != "" || r.Role != "" || r.SecretIDFile != "" || r.JWTFile != "" || r.AuthMount != "" {
				t.Fatalf("token auth with login parameters: %+v", r)
			}
		case vault.AuthAppRole:
			if r.RoleID == "" || r.Role != "" || r.JWTFile != "" {
				t.Fatalf("bad approle parameters: %+v", r)
			}
		case vault.AuthKubernetes:
			if r.Role == "" || r.RoleID != "" || r.SecretIDFile != "" {
				t.Fatalf("bad kubernetes parameters: %+v", r)
			}
		default:
			t.Fatalf("auth %q", r.Auth)
		}
		if r.Version < 0 || r.Version > vault.MaxKeyVersion {
			t.Fatalf("version %d", r.Version)
		}
		if scheme == vault.SchemeHTTP && !strings.HasPrefix(r.Address, "http://") {
			t.Fatalf("vault+http with address %q", r.Address)
		}
		if r.Address != "" {
			_, host, _ := strings.Cut(r.Address, "://")
			if host == "" || strings.ContainsAny(host, "@/?#") {
				t.Fatalf("address %q", r.Address)
			}
		}
	})
}
