package vaulttest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/signertest"
	"github.com/a1-go/a1/signer/vault"
)

const token = "hvs.test-root-token"

func start(t *testing.T) (*Server, string) {
	t.Helper()
	ctx := context.Background()
	s, err := NewServer(ctx, "transit", token)
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]string{"a1-root": "ed25519", "p256": "ecdsa-p256", "rsa": "rsa-2048", "aes": "aes256-gcm96"} {
		if _, err := s.Request(ctx, logical.UpdateOperation, "keys/"+name, map[string]any{"type": typ}); err != nil {
			t.Fatalf("create %s key: %v", typ, err)
		}
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, "vault+http:" + strings.TrimPrefix(srv.URL, "http:")
}

func TestContractRealTransit(t *testing.T) {
	_, base := start(t)
	t.Setenv("VAULT_TOKEN", token)
	signertest.Run(t, func(t *testing.T) signer.Signer {
		s, err := signer.Open(context.Background(), base+"/transit/a1-root")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestWrongKeyTypes(t *testing.T) {
	_, base := start(t)
	t.Setenv("VAULT_TOKEN", token)
	for _, name := range []string{"p256", "rsa", "aes"} {
		_, err := signer.Open(context.Background(), base+"/transit/"+name)
		if !errors.Is(err, signer.ErrUnsupportedKey) {
			t.Errorf("%s: Open = %v, want ErrUnsupportedKey", name, err)
		}
	}
	if _, err := signer.Open(context.Background(), base+"/transit/missing"); err == nil {
		t.Error("missing key opened")
	}
}

func TestRotationAndTransitVerify(t *testing.T) {
	srv, base := start(t)
	t.Setenv("VAULT_TOKEN", token)
	ctx := context.Background()
	v1, err := signer.Open(ctx, base+"/transit/a1-root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Request(ctx, logical.UpdateOperation, "keys/a1-root/rotate", nil); err != nil {
		t.Fatal(err)
	}
	v2, err := signer.Open(ctx, base+"/transit/a1-root")
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := signer.Open(ctx, base+"/transit/a1-root?version=1")
	if err != nil {
		t.Fatal(err)
	}
	if v1.KeyID() != "vault:transit/a1-root/v1" || v2.KeyID() != "vault:transit/a1-root/v2" || pinned.KeyID() != v1.KeyID() {
		t.Fatalf("key ids %q %q %q", v1.KeyID(), v2.KeyID(), pinned.KeyID())
	}
	if v1.Public().(ed25519.PublicKey).Equal(v2.Public()) {
		t.Fatal("rotation did not change the public key")
	}
	msg := []byte("a1 cert signable bytes")
	for i, s := range []signer.Signer{v1, v2, pinned} {
		sig, err := s.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("signer %d: %v", i, err)
		}
		// The transit engine itself must accept our signature.
		ver := strings.TrimPrefix(s.KeyID(), "vault:transit/a1-root/")
		resp, err := srv.Request(ctx, logical.UpdateOperation, "verify/a1-root", map[string]any{
			"input":     base64.StdEncoding.EncodeToString(msg),
			"signature": "vault:" + ver + ":" + base64.StdEncoding.EncodeToString(sig),
		})
		if err != nil || resp.Data["valid"] != true {
			t.Fatalf("signer %d: transit verify = %v, %v", i, resp, err)
		}
	}
}

func TestBadToken(t *testing.T) {
	_, base := start(t)
	t.Setenv("VAULT_TOKEN", "hvs.wrong-token")
	_, err := signer.Open(context.Background(), base+"/transit/a1-root")
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "hvs.wrong-token") {
		t.Fatalf("Open with a bad token = %v", err)
	}
}

func TestDirectConfig(t *testing.T) {
	_, base := start(t)
	s, err := vault.Open(context.Background(), vault.SchemeHTTP, strings.TrimPrefix(base, "vault+http:")+"/transit/a1-root", vault.Config{Token: token, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); err != nil {
		t.Fatal(err)
	}
}
