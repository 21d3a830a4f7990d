package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/a1-go/a1/signer/internal/kms"
)

// MaxKeyFileSize bounds a key file read by file:.
const MaxKeyFileSize = 8 << 10

var errInsecureKeyFile = errors.New("signer: key file is accessible to group (write) or others")

// localSigner is an in-process Ed25519 key (file:, hex:, and azurekv once its
// seed is fetched).
type localSigner struct {
	priv ed25519.PrivateKey
	id   string
}

// newLocal makes a signer from a 32-byte seed. The caller should zero seed.
func newLocal(seed []byte) *localSigner {
	priv := ed25519.NewKeyFromSeed(seed)
	return &localSigner{priv: priv, id: Fingerprint(priv.Public().(ed25519.PublicKey))}
}

// Fingerprint is the KeyID of a local key: "ed25519:" and the first 16 hex
// characters of the SHA-256 of the public key (the reference SDK's
// key_fingerprint).
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

func (l *localSigner) Public() crypto.PublicKey { return l.priv.Public() }
func (l *localSigner) KeyID() string            { return l.id }

func (l *localSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := kms.CheckOpts(opts); err != nil {
		return nil, err
	}
	return l.SignContext(context.Background(), message)
}

func (l *localSigner) SignContext(ctx context.Context, message []byte) ([]byte, error) {
	if err := kms.CheckMessage(message); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return SignEd25519(l.priv, message), nil
}

// SignEd25519 is ed25519.Sign (pure Ed25519, RFC 8032) computed with
// curve25519-voi, about twice as fast as crypto/ed25519 on amd64. Ed25519
// signing is deterministic, so the signature is byte-identical to
// crypto/ed25519's (TestSignEd25519MatchesStdlib). priv must be a valid
// 64-byte key (seed ‖ public key); it panics otherwise, like ed25519.Sign.
func SignEd25519(priv ed25519.PrivateKey, message []byte) []byte {
	return voi.Sign(voi.PrivateKey(priv), message)
}

// NewLocal returns a Signer for an in-memory Ed25519 private key, which it
// copies.
func NewLocal(priv ed25519.PrivateKey) (Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes", ErrUnsupportedKey, len(priv))
	}
	seed := priv.Seed()
	defer clear(seed)
	l := newLocal(seed)
	if !bytes.Equal(l.priv, priv) {
		return nil, fmt.Errorf("%w: private key's public half does not match its seed", ErrUnsupportedKey)
	}
	return l, nil
}

// openHex opens hex:SEED (or a bare hex seed).
func openHex(_ context.Context, rest string, _ Options) (Signer, error) {
	seed, err := parseHexSeed([]byte(strings.TrimSpace(rest)))
	if err != nil {
		return nil, fmt.Errorf("%w: hex: %w", ErrInvalidURI, err)
	}
	defer clear(seed)
	return newLocal(seed), nil
}

// parseHexSeed decodes exactly 64 hex characters. Its errors never include
// the input.
func parseHexSeed(b []byte) ([]byte, error) {
	if len(b) != 2*ed25519.SeedSize {
		return nil, fmt.Errorf("want a seed of %d hex characters (got %d characters)", 2*ed25519.SeedSize, len(b))
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := hex.Decode(seed, b); err != nil {
		return nil, fmt.Errorf("want a seed of %d hex characters (found a non-hex character)", 2*ed25519.SeedSize)
	}
	return seed, nil
}

// openFile opens file:PATH or file:///PATH.
func openFile(_ context.Context, rest string, o Options) (Signer, error) {
	path, err := filePath(rest)
	if err != nil {
		return nil, err
	}
	data, err := readKeyFile(path, o.AllowInsecureKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	s, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("signer: key file %s: %w", path, err)
	}
	return s, nil
}

func filePath(rest string) (string, error) {
	if strings.HasPrefix(rest, "//") {
		u, err := url.Parse("file:" + rest)
		if err != nil {
			return "", fmt.Errorf("%w: file: %w", ErrInvalidURI, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%w: file: remote host %q", ErrInvalidURI, u.Host)
		}
		// A file URL names a path only: a query, fragment or user would
		// otherwise be dropped silently.
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || strings.Contains(rest, "#") {
			return "", fmt.Errorf("%w: file: a file URL takes no user, query or fragment", ErrInvalidURI)
		}
		rest = u.Path
	}
	if rest == "" {
		return "", fmt.Errorf("%w: file: empty path", ErrInvalidURI)
	}
	return rest, nil
}

func readKeyFile(path string, allowInsecure bool) ([]byte, error) {
	// Refuse a non-regular file before opening it: opening a FIFO for
	// reading blocks until a writer appears.
	pre, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signer: key file: %w", err)
	}
	if !pre.Mode().IsRegular() {
		return nil, fmt.Errorf("signer: key file %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signer: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("signer: key file: %w", err)
	}
	if !st.Mode().IsRegular() || !os.SameFile(pre, st) {
		return nil, fmt.Errorf("signer: key file %s: not a regular file (or replaced while opening)", path)
	}
	if st.Size() > MaxKeyFileSize {
		return nil, fmt.Errorf("signer: key file %s: larger than %d bytes", path, MaxKeyFileSize)
	}
	if !allowInsecure && runtime.GOOS != "windows" && insecureMode(st.Mode()) {
		return nil, fmt.Errorf("%w: %s has mode %v; chmod 600 (or 640) it", errInsecureKeyFile, path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("signer: key file: %w", err)
	}
	if len(data) > MaxKeyFileSize {
		clear(data)
		return nil, fmt.Errorf("signer: key file %s: larger than %d bytes", path, MaxKeyFileSize)
	}
	return data, nil
}

// insecureMode: any permission for others, or write for the group.
func insecureMode(m fs.FileMode) bool { return m.Perm()&0o027 != 0 }

// parseKeyFile accepts 64 hex characters (surrounding whitespace ignored) or
// one PEM "PRIVATE KEY" block, without headers or anything after it, holding
// a PKCS#8 Ed25519 key. Errors never
// include the file's contents.
func parseKeyFile(data []byte) (Signer, error) {
	text := bytes.TrimSpace(data)
	if bytes.HasPrefix(text, []byte("-----BEGIN")) {
		block, rest := pem.Decode(text)
		if block == nil || block.Type != "PRIVATE KEY" || len(block.Headers) != 0 {
			return nil, errors.New("want a PEM \"PRIVATE KEY\" (PKCS#8) block")
		}
		defer clear(block.Bytes)
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("want exactly one PEM block and nothing after it")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed PKCS#8 private key")
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key type %T", ErrUnsupportedKey, k)
		}
		defer clear(priv)
		return NewLocal(priv)
	}
	seed, err := parseHexSeed(text)
	if err != nil {
		return nil, err
	}
	defer clear(seed)
	return newLocal(seed), nil
}
