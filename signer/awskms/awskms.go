package awskms

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	core "github.com/a1-go/a1/signer/internal/kms"
)

// Scheme is the URI scheme of this provider.
const Scheme = "awskms"

// MaxKeyIDLength bounds the key part of the URI (AWS allows 2048).
const MaxKeyIDLength = 2048

// Config tunes Open. The zero value uses the default AWS configuration chain
// (environment, shared config, instance role).
type Config struct {
	Timeout     time.Duration // per operation, retries included; 0 means 5s
	MaxAttempts int           // attempts for transient failures; 0 means 3
	// AWS, when non-nil, replaces the configuration loaded from the
	// environment (region, profile and endpoint URI parameters still apply).
	AWS *aws.Config
	// Sleep replaces the backoff sleep (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Ref is a parsed awskms URI: awskms:KEY[?region=R&profile=P&endpoint=URL].
type Ref struct {
	KeyID    string // key id, key ARN, alias name or alias ARN
	Region   string // from the query, else from an ARN
	Profile  string
	Endpoint string
}

// ParseURI parses the part of the URI after "awskms:".
func ParseURI(rest string) (Ref, error) {
	key, query, _ := strings.Cut(rest, "?")
	if key == "" {
		return Ref{}, fmt.Errorf("%w: awskms: empty key id", core.ErrInvalidURI)
	}
	if len(key) > MaxKeyIDLength {
		return Ref{}, fmt.Errorf("%w: awskms: key id longer than %d", core.ErrInvalidURI, MaxKeyIDLength)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: awskms: query: %w", core.ErrInvalidURI, err)
	}
	r := Ref{KeyID: key}
	for k, v := range q {
		if len(v) != 1 {
			return Ref{}, fmt.Errorf("%w: awskms: parameter %q given %d times", core.ErrInvalidURI, k, len(v))
		}
		if v[0] == "" {
			return Ref{}, fmt.Errorf("%w: awskms: parameter %q is empty", core.ErrInvalidURI, k)
		}
		switch k {
		case "region":
			r.Region = v[0]
		case "profile":
			r.Profile = v[0]
		case "endpoint":
			u, err := url.Parse(v[0])
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
				u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
				return Ref{}, fmt.Errorf("%w: awskms: endpoint must be an http(s) URL without user, query or fragment", core.ErrInvalidURI)
			}
			r.Endpoint = v[0]
		default:
			return Ref{}, fmt.Errorf("%w: awskms: unknown parameter %q (want region, profile, endpoint)", core.ErrInvalidURI, k)
		}
	}
	if strings.HasPrefix(key, "arn:") {
		parts := strings.SplitN(key, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" || parts[3] == "" {
			return Ref{}, fmt.Errorf("%w: awskms: malformed KMS ARN", core.ErrInvalidURI)
		}
		if r.Region == "" {
			r.Region = parts[3]
		}
	}
	return r, nil
}

// Signer is an AWS KMS Ed25519 key.
type Signer struct {
	core.Remote
}

// Open parses rest (the URI after "awskms:"), fetches the public key and
// checks it is an Ed25519 signing key.
func Open(ctx context.Context, rest string, c Config) (*Signer, error) {
	ref, err := ParseURI(rest)
	if err != nil {
		return nil, err
	}
	policy := core.Policy{Timeout: c.Timeout, MaxAttempts: c.MaxAttempts, Sleep: c.Sleep}.Normalize()

	var cfg aws.Config
	if c.AWS != nil {
		cfg = c.AWS.Copy()
	} else {
		var opts []func(*config.LoadOptions) error
		if ref.Profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(ref.Profile))
		}
		lctx, cancel := context.WithTimeout(ctx, policy.Timeout)
		cfg, err = config.LoadDefaultConfig(lctx, opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("signer: awskms: load AWS configuration: %w", err)
		}
	}
	if ref.Region != "" {
		cfg.Region = ref.Region
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: awskms: no region (use a key ARN, ?region=, or AWS_REGION)", core.ErrInvalidURI)
	}
	// Retries are ours (core.Do), so that the policy is the same for every
	// provider and the deadline covers all attempts.
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	// Response bodies are bounded (the SDK would buffer any size).
	var hc core.Doer = cfg.HTTPClient
	if cfg.HTTPClient == nil {
		hc = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = core.LimitDoer(hc)
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if ref.Endpoint != "" {
			o.BaseEndpoint = aws.String(ref.Endpoint)
		}
	})

	var out *kms.GetPublicKeyOutput
	err = core.Do(ctx, policy, transient, func(ctx context.Context) error {
		var err error
		out, err = client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(ref.KeyID)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signer: awskms: get public key of %s: %w", ref.KeyID, err)
	}
	if out.KeySpec != types.KeySpecEccNistEdwards25519 {
		return nil, fmt.Errorf("%w: awskms: key %s has key spec %s, want %s", core.ErrUnsupportedKey, ref.KeyID, out.KeySpec, types.KeySpecEccNistEdwards25519)
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("%w: awskms: key %s has usage %s, want %s", core.ErrUnsupportedKey, ref.KeyID, out.KeyUsage, types.KeyUsageTypeSignVerify)
	}
	if !slices.Contains(out.SigningAlgorithms, types.SigningAlgorithmSpecEd25519Sha512) {
		return nil, fmt.Errorf("%w: awskms: key %s does not offer %s", core.ErrUnsupportedKey, ref.KeyID, types.SigningAlgorithmSpecEd25519Sha512)
	}
	spki, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: awskms: key %s: public key: %w", core.ErrUnsupportedKey, ref.KeyID, err)
	}
	pub, err := core.PublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("awskms: key %s: %w", ref.KeyID, err)
	}
	keyARN := aws.ToString(out.KeyId)
	if keyARN == "" {
		keyARN = ref.KeyID
	}
	s := &Signer{Remote: core.Remote{
		Provider:  Scheme,
		ID:        Scheme + ":" + keyARN,
		Pub:       pub,
		Policy:    policy,
		Transient: transient,
	}}
	s.SignOnce = func(ctx context.Context, msg []byte) ([]byte, error) {
		out, err := client.Sign(ctx, &kms.SignInput{
			KeyId:            aws.String(keyARN),
			Message:          msg,
			MessageType:      types.MessageTypeRaw,
			SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512,
		})
		if err != nil {
			return nil, err
		}
		return out.Signature, nil
	}
	return s, nil
}

// transient: network errors, 5xx, 429, and KMS's throttling and internal
// error codes (throttling is a 400).
func transient(err error) bool {
	if core.IsNetworkError(err) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "KMSInternalException", "DependencyTimeoutException", "ServiceUnavailableException":
			return true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code >= 500 || code == 429
	}
	return false
}
