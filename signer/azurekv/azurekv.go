package azurekv

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	core "github.com/a1-go/a1/signer/internal/kms"
)

// Scheme is the URI scheme of this provider.
const Scheme = "azurekv"

// MaxSecretSize bounds the secret value accepted (a hex seed is 64 bytes).
const MaxSecretSize = 1024

var (
	secretName    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	secretVersion = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)
)

// Config tunes Open.
type Config struct {
	Timeout     time.Duration // per operation, retries included; 0 means 5s
	MaxAttempts int           // attempts for transient failures; 0 means 3
	// Credential authenticates to Key Vault; nil means
	// azidentity.NewDefaultAzureCredential.
	Credential azcore.TokenCredential
	// ClientOptions are passed to azsecrets.NewClient (transport, and, for
	// tests only, DisableChallengeResourceVerification).
	ClientOptions *azsecrets.ClientOptions
	// Sleep replaces the backoff sleep (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Ref is a parsed azurekv URI.
type Ref struct {
	VaultURL string // https://NAME.vault.azure.net
	Name     string
	Version  string // "" means the current version, resolved at open
}

// ParseURI parses the part after "azurekv:":
// https://VAULT.vault.azure.net/secrets/NAME[/VERSION].
func ParseURI(rest string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: azurekv: %s (want https://VAULT.vault.azure.net/secrets/NAME[/VERSION])", core.ErrInvalidURI, why)
	}
	if strings.ContainsAny(rest, "?#%") {
		// Names and versions are [0-9A-Za-z-]: no query, fragment or
		// escapes (which url.Parse would decode, or drop when empty).
		return bad("want an https URL without query, fragment or %-escapes")
	}
	u, err := url.Parse(rest)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("want an https URL without user, query or fragment")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" || !secretName.MatchString(parts[1]) {
		return bad("bad secret path")
	}
	r := Ref{VaultURL: "https://" + u.Host, Name: parts[1]}
	if len(parts) == 3 {
		if !secretVersion.MatchString(parts[2]) {
			return bad("bad secret version")
		}
		r.Version = parts[2]
	}
	return r, nil
}

// Signer is an Ed25519 key whose seed was read from a Key Vault secret.
type Signer struct {
	core.Remote
	notice string
}

// Notice says that signing happens in process memory.
func (s *Signer) Notice() string { return s.notice }

// Open parses rest (the URI after "azurekv:"), reads the secret once, and
// returns a signer that signs locally.
func Open(ctx context.Context, rest string, c Config) (*Signer, error) {
	ref, err := ParseURI(rest)
	if err != nil {
		return nil, err
	}
	policy := core.Policy{Timeout: c.Timeout, MaxAttempts: c.MaxAttempts, Sleep: c.Sleep}.Normalize()
	cred := c.Credential
	if cred == nil {
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("signer: azurekv: credential: %w", err)
		}
	}
	var opts azsecrets.ClientOptions
	if c.ClientOptions != nil {
		opts = *c.ClientOptions
	}
	opts.Retry.MaxRetries = -1 // retries are ours (core.Do)
	// Response bodies are bounded (the SDK would buffer any size).
	var transport core.Doer = opts.Transport
	if opts.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		transport = &http.Client{Transport: t}
	}
	opts.Transport = core.LimitDoer(transport)
	client, err := azsecrets.NewClient(ref.VaultURL, cred, &opts)
	if err != nil {
		return nil, fmt.Errorf("signer: azurekv: client: %w", err)
	}

	var resp azsecrets.GetSecretResponse
	err = core.Do(ctx, policy, transient, func(ctx context.Context) error {
		var err error
		resp, err = client.GetSecret(ctx, ref.Name, ref.Version, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signer: azurekv: get secret %s: %w", ref.Name, err)
	}
	if resp.Value == nil {
		return nil, fmt.Errorf("%w: azurekv: secret %s has no value", core.ErrUnsupportedKey, ref.Name)
	}
	seed, err := parseSeed(*resp.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: azurekv: secret %s: %w", core.ErrUnsupportedKey, ref.Name, err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)

	version := ref.Version
	if resp.ID != nil && resp.ID.Version() != "" {
		if version != "" && resp.ID.Version() != version {
			return nil, fmt.Errorf("signer: azurekv: asked for version %s of %s, got %s", version, ref.Name, resp.ID.Version())
		}
		version = resp.ID.Version()
	}
	id := Scheme + ":" + ref.VaultURL + "/secrets/" + ref.Name
	if version != "" {
		id += "/" + version
	}
	s := &Signer{
		notice: "azurekv: Azure Key Vault has no Ed25519 keys; the seed of " + id +
			" was read once at open and signs in this process's memory (Key Vault logs the read, not the signatures)",
		Remote: core.Remote{
			Provider: Scheme,
			ID:       id,
			Pub:      priv.Public().(ed25519.PublicKey),
			Policy:   policy,
			SignOnce: func(_ context.Context, msg []byte) ([]byte, error) {
				return ed25519.Sign(priv, msg), nil
			},
		},
	}
	return s, nil
}

// parseSeed accepts exactly 64 hex characters, surrounding whitespace
// ignored. Errors never include the value.
func parseSeed(v string) ([]byte, error) {
	if len(v) > MaxSecretSize {
		return nil, fmt.Errorf("secret is larger than %d bytes", MaxSecretSize)
	}
	v = strings.TrimSpace(v)
	if len(v) != 2*ed25519.SeedSize {
		return nil, fmt.Errorf("want a %d-hex-character Ed25519 seed, got %d characters", 2*ed25519.SeedSize, len(v))
	}
	seed, err := hex.DecodeString(v)
	if err != nil {
		return nil, errors.New("want a hex Ed25519 seed (found a non-hex character)")
	}
	return seed, nil
}

// transient: network errors, 5xx and 429.
func transient(err error) bool {
	if core.IsNetworkError(err) {
		return true
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= http.StatusInternalServerError || re.StatusCode == http.StatusTooManyRequests
	}
	return false
}
