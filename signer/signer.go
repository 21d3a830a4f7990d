package signer

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/a1-go/a1/signer/internal/kms"
)

// Signer is an Ed25519 signing key. Public returns an [ed25519.PublicKey];
// Sign signs the message itself (pure Ed25519), so opts must be
// crypto.Hash(0). Implementations are safe for concurrent use.
type Signer interface {
	crypto.Signer
	// KeyID identifies the key (and version, for remote keys). It is stable
	// for the life of the Signer and never contains secret material.
	KeyID() string
}

// ContextSigner is implemented by signers whose Sign may block on a remote
// service; [SignContext] uses it to pass a context.
type ContextSigner interface {
	SignContext(ctx context.Context, message []byte) ([]byte, error)
}

// Noticer is implemented by signers with a caveat an operator must know
// about, such as azurekv's local signing. Notice returns it, or "".
type Noticer interface {
	Notice() string
}

// Errors returned by this package and its providers; match with errors.Is.
var (
	// ErrUnsupportedKey: the key is not an Ed25519 key.
	ErrUnsupportedKey = kms.ErrUnsupportedKey
	// ErrBadSignature: a key service returned a signature that does not
	// verify against the key's public key; it was not returned.
	ErrBadSignature = kms.ErrBadSignature
	// ErrUnsupportedOpts: Sign was asked for anything but pure Ed25519.
	ErrUnsupportedOpts = kms.ErrUnsupportedOpts
	// ErrInvalidURI: the key URI is malformed or names an unknown scheme.
	ErrInvalidURI = kms.ErrInvalidURI
	// ErrCompiledOut: the provider was left out by a build tag.
	ErrCompiledOut = kms.ErrCompiledOut
	// ErrMessageTooLarge: the message exceeds [MaxMessageSize].
	ErrMessageTooLarge = kms.ErrMessageTooLarge
	// ErrResponseTooLarge: a key service answered with a body larger than
	// 1 MiB; it was not read further.
	ErrResponseTooLarge = kms.ErrResponseTooLarge
	// ErrInsecureKeyFile: a key file grants access to group or others.
	ErrInsecureKeyFile = errInsecureKeyFile
)

// Limits.
const (
	// DefaultTimeout bounds one remote Sign, retries included, and one open.
	DefaultTimeout = kms.DefaultTimeout
	// DefaultMaxAttempts is how many attempts a transient failure gets.
	DefaultMaxAttempts = kms.DefaultMaxAttempts
	// MaxMessageSize is the largest message a Signer signs.
	MaxMessageSize = kms.MaxMessageSize
	// MaxURILength bounds a key URI.
	MaxURILength = 4096
)

// Options tune [OpenOptions]. The zero value is the default.
type Options struct {
	// Timeout bounds each remote call (all retries included) and the open;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how many attempts a transient failure gets; 0 means
	// DefaultMaxAttempts; at most 10.
	MaxAttempts int
	// Logger receives notices (e.g. azurekv's local signing) at open; nil
	// means slog.Default(). Secrets are never logged.
	Logger *slog.Logger
	// AllowInsecureKeyFile lets file: read a key file that group or others
	// may access. Leave it off outside development.
	AllowInsecureKeyFile bool
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// opener opens the part of a URI after "scheme:".
type opener func(ctx context.Context, rest string, o Options) (Signer, error)

// providers is the explicit provider table. Remote providers are in
// provider_*.go files, each with a build-tag stub.
var providers = map[string]opener{
	"file":       openFile,
	"hex":        openHex,
	"vault":      openVault,
	"vault+http": openVaultHTTP,
	"awskms":     openAWSKMS,
	"gcpkms":     openGCPKMS,
	"azurekv":    openAzureKV,
}

// Schemes returns the URI schemes Open understands, in a fixed order.
func Schemes() []string {
	return []string{"file", "hex", "vault", "vault+http", "awskms", "gcpkms", "azurekv"}
}

// Open opens the signing key named by uri with default [Options]. A bare
// 64-character hex string is a seed, as with hex:. See the package
// documentation and docs/kms.md for the URI forms.
func Open(ctx context.Context, uri string) (Signer, error) {
	return OpenOptions(ctx, uri, Options{})
}

// OpenOptions is [Open] with options.
func OpenOptions(ctx context.Context, uri string, o Options) (Signer, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidURI)
	}
	if len(uri) > MaxURILength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURI, MaxURILength)
	}
	if len(uri) == 2*ed25519.SeedSize && isHex(uri) {
		return openHex(ctx, uri, o)
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		// Never echo the URI: it may be a mistyped secret.
		return nil, fmt.Errorf("%w: no scheme (want one of %s, or a 64-hex seed)", ErrInvalidURI, strings.Join(Schemes(), ", "))
	}
	open, ok := providers[strings.ToLower(scheme)]
	if !ok {
		// Name it only when it looks like a scheme: text before a colon can
		// be a pasted secret ("<seed hex>:…").
		shown := "(not shown: it is not a URI scheme)"
		if plausibleScheme(scheme) {
			shown = strconv.Quote(scheme)
		}
		return nil, fmt.Errorf("%w: unknown scheme %s (want one of %s)", ErrInvalidURI, shown, strings.Join(Schemes(), ", "))
	}
	s, err := open(ctx, rest, o)
	if err != nil {
		return nil, err
	}
	if n, ok := s.(Noticer); ok {
		if msg := n.Notice(); msg != "" {
			o.logger().WarnContext(ctx, "signer notice", "key_id", s.KeyID(), "notice", msg)
		}
	}
	return s, nil
}

// SignContext signs message with s under ctx: through [ContextSigner] when s
// implements it, else through s.Sign with crypto.Hash(0).
func SignContext(ctx context.Context, s Signer, message []byte) ([]byte, error) {
	if cs, ok := s.(ContextSigner); ok {
		return cs.SignContext(ctx, message)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Sign(nil, message, crypto.Hash(0))
}

// PublicKey returns s's public key as an [ed25519.PublicKey].
func PublicKey(s Signer) (ed25519.PublicKey, error) {
	return kms.PublicKey(s.Public())
}

// Counting wraps a Signer and counts signing calls (Sign and SignContext,
// successful or not). Tests use it to prove a code path never signs.
type Counting struct {
	s Signer
	n atomic.Int64
}

// NewCounting wraps s.
func NewCounting(s Signer) *Counting { return &Counting{s: s} }

// Calls returns the number of signing calls so far.
func (c *Counting) Calls() int64 { return c.n.Load() }

// Public returns the wrapped signer's public key.
func (c *Counting) Public() crypto.PublicKey { return c.s.Public() }

// KeyID returns the wrapped signer's key id.
func (c *Counting) KeyID() string { return c.s.KeyID() }

// Sign counts the call and delegates.
func (c *Counting) Sign(rand io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.s.Sign(rand, message, opts)
}

// SignContext counts the call and delegates.
func (c *Counting) SignContext(ctx context.Context, message []byte) ([]byte, error) {
	c.n.Add(1)
	return SignContext(ctx, c.s, message)
}

// Notice forwards the wrapped signer's notice, if any.
func (c *Counting) Notice() string {
	if n, ok := c.s.(Noticer); ok {
		return n.Notice()
	}
	return ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// plausibleScheme reports whether s can be a URI scheme short enough to be
// a name (RFC 3986: a letter, then letters, digits, '+', '-', '.'), not a
// key or token pasted before a colon.
func plausibleScheme(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
