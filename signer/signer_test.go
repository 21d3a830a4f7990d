package signer_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/signertest"
)

// seedHex is the RFC 8032 test 1 secret key.
const (
	seedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	pubHex  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)

func writeKey(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.hex")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func mustOpen(t *testing.T, uri string) signer.Signer {
	t.Helper()
	s, err := signer.Open(context.Background(), uri)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContractHex(t *testing.T) {
	signertest.Run(t, func(t *testing.T) signer.Signer { return mustOpen(t, "hex:"+seedHex) })
}

func TestContractFile(t *testing.T) {
	p := writeKey(t, seedHex+"\n", 0o600)
	signertest.Run(t, func(t *testing.T) signer.Signer { return mustOpen(t, "file:"+p) })
}

func TestContractCounting(t *testing.T) {
	signertest.Run(t, func(t *testing.T) signer.Signer { return signer.NewCounting(mustOpen(t, seedHex)) })
}

func TestLocalForms(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pemFile := writeKey(t, pemKey, 0o400)
	hexFile := writeKey(t, "  "+strings.ToUpper(seedHex)+"\r\n", 0o640)

	for _, tc := range []struct {
		name, uri string
		want      string
	}{
		{"bare hex", seedHex, pubHex},
		{"hex scheme", "hex:" + seedHex, pubHex},
		{"scheme case", "HEX:" + seedHex, pubHex},
		{"file", "file:" + hexFile, pubHex},
		{"file URL", "file://" + hexFile, pubHex},
		{"file localhost", "file://localhost" + hexFile, pubHex},
		{"pem", "file:" + pemFile, hex.EncodeToString(priv.Public().(ed25519.PublicKey))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, tc.uri)
			if got := hex.EncodeToString(s.Public().(ed25519.PublicKey)); got != tc.want {
				t.Fatalf("public key %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRFC8032Vector(t *testing.T) {
	s := mustOpen(t, seedHex)
	sig, err := s.Sign(nil, nil, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	const want = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	if got := hex.EncodeToString(sig); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if got, want := s.KeyID(), signer.Fingerprint(s.Public().(ed25519.PublicKey)); got != want || !strings.HasPrefix(got, "ed25519:") || len(got) != len("ed25519:")+16 {
		t.Fatalf("KeyID %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	worldReadable := writeKey(t, seedHex, 0o644)
	groupWritable := writeKey(t, seedHex, 0o660)
	short := writeKey(t, seedHex[:62], 0o600)
	garbage := writeKey(t, strings.Repeat("zz", 32), 0o600)
	big := writeKey(t, strings.Repeat("0", signer.MaxKeyFileSize+1), 0o600)
	_, ecKeyPEM := ecdsaPEM(t)
	ecFile := writeKey(t, ecKeyPEM, 0o600)
	okFile := writeKey(t, seedHex, 0o600)
	_, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pemTrailing := writeKey(t, pemKey+"trailing garbage\n", 0o600)
	pemTwice := writeKey(t, pemKey+pemKey, 0o600)
	pemHeaders := writeKey(t, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})), 0o600)

	for _, tc := range []struct {
		name, uri string
		want      error
	}{
		{"empty", "", signer.ErrInvalidURI},
		{"no scheme", "not-a-key", signer.ErrInvalidURI},
		{"unknown scheme", "pkcs11:token=x", signer.ErrInvalidURI},
		{"too long", "file:" + strings.Repeat("a", signer.MaxURILength), signer.ErrInvalidURI},
		{"short hex", "hex:" + seedHex[:62], signer.ErrInvalidURI},
		{"non-hex", "hex:" + strings.Repeat("g", 64), signer.ErrInvalidURI},
		{"empty file path", "file:", signer.ErrInvalidURI},
		{"remote file host", "file://example.com/key", signer.ErrInvalidURI},
		{"missing file", "file:" + filepath.Join(dir, "none"), os.ErrNotExist},
		{"world-readable file", "file:" + worldReadable, signer.ErrInsecureKeyFile},
		{"group-writable file", "file:" + groupWritable, signer.ErrInsecureKeyFile},
		{"ecdsa pem", "file:" + ecFile, signer.ErrUnsupportedKey},
		// A file URL's query, fragment or user is not silently dropped.
		{"file URL query", "file://" + okFile + "?mode=x", signer.ErrInvalidURI},
		{"file URL empty query", "file://" + okFile + "?", signer.ErrInvalidURI},
		{"file URL fragment", "file://" + okFile + "#x", signer.ErrInvalidURI},
		{"file URL user", "file://user@localhost" + okFile, signer.ErrInvalidURI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signer.Open(context.Background(), tc.uri)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, path string }{
		{"short", short}, {"garbage", garbage}, {"too big", big}, {"directory", dir},
		{"pem with trailing data", pemTrailing}, {"two pem blocks", pemTwice},
		{"pem with headers", pemHeaders},
	} {
		t.Run("file "+tc.name, func(t *testing.T) {
			if _, err := signer.Open(context.Background(), "file:"+tc.path); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	secret := strings.Repeat("ab", 31) + "zz" // 64 chars, one bad pair
	for _, uri := range []string{"hex:" + secret, "hex:" + secret[:40], secret, "bogus:" + secret} {
		_, err := signer.Open(context.Background(), uri)
		if err == nil {
			t.Fatalf("Open(%d chars) succeeded", len(uri))
		}
		if strings.Contains(err.Error(), secret[:40]) {
			t.Fatalf("error echoes the secret: %v", err)
		}
	}
	p := writeKey(t, secret, 0o600)
	_, err := signer.Open(context.Background(), "file:"+p)
	if err == nil || strings.Contains(err.Error(), secret[:40]) {
		t.Fatalf("file error = %v", err)
	}
}

func TestAllowInsecureKeyFile(t *testing.T) {
	p := writeKey(t, seedHex, 0o644)
	s, err := signer.OpenOptions(context.Background(), "file:"+p, signer.Options{AllowInsecureKeyFile: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(s.Public().(ed25519.PublicKey)); got != pubHex {
		t.Fatalf("public key %s", got)
	}
}

func TestCounting(t *testing.T) {
	c := signer.NewCounting(mustOpen(t, seedHex))
	if c.Calls() != 0 {
		t.Fatal("fresh counter is not zero")
	}
	_, _ = c.Sign(nil, []byte("a"), crypto.Hash(0))
	_, _ = c.Sign(nil, []byte("a"), crypto.SHA256) // counted even though it fails
	_, _ = signer.SignContext(context.Background(), c, []byte("b"))
	_ = c.Public()
	_ = c.KeyID()
	if got := c.Calls(); got != 3 {
		t.Fatalf("Calls = %d, want 3", got)
	}
}

func TestNewLocal(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	s, err := signer.NewLocal(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(s.Public()) {
		t.Fatal("public key mismatch")
	}
	bad := append(ed25519.PrivateKey(nil), priv...)
	bad[63] ^= 1
	if _, err := signer.NewLocal(bad); !errors.Is(err, signer.ErrUnsupportedKey) {
		t.Fatalf("mismatched private key: %v", err)
	}
	if _, err := signer.NewLocal(priv[:10]); !errors.Is(err, signer.ErrUnsupportedKey) {
		t.Fatalf("short private key: %v", err)
	}
}

// TestUnknownSchemeNotEchoed: the text before the first colon is named in
// the error only when it looks like a scheme; a secret pasted before a
// colon (a hex seed or a token) never reaches the error.
func TestUnknownSchemeNotEchoed(t *testing.T) {
	secret := strings.Repeat("ab", 31) + "x1" // 64 characters, not a hex seed
	for uri, shown := range map[string]string{
		"pkcs11:token=x":                   `"pkcs11"`,
		secret + ":rest":                   "",
		"hvs.CAESIAbc123def456ghi789:path": "", // a Vault token
		"1password:item":                   "",
	} {
		_, err := signer.Open(context.Background(), uri)
		if !errors.Is(err, signer.ErrInvalidURI) {
			t.Fatalf("%q: %v", uri, err)
		}
		scheme, _, _ := strings.Cut(uri, ":")
		if shown == "" && strings.Contains(err.Error(), scheme[:4]) {
			t.Errorf("%q: the error shows the text before the colon: %v", uri, err)
		}
		if shown != "" && !strings.Contains(err.Error(), shown) {
			t.Errorf("%q: the error does not name the scheme %s: %v", uri, shown, err)
		}
	}
}
