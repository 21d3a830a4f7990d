package gcpkms

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	core "github.com/a1-go/a1/signer/internal/kms"
)

// Scheme is the URI scheme of this provider.
const Scheme = "gcpkms"

// MaxNameLength bounds the key version resource name.
const MaxNameLength = 1024

// errCorrupted marks a CRC32C mismatch; it is retried.
var errCorrupted = errors.New("checksum mismatch (data corrupted in transit)")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) int64 { return int64(crc32.Checksum(b, castagnoli)) }

// Config tunes Open.
type Config struct {
	Timeout     time.Duration // per operation, retries included; 0 means 5s
	MaxAttempts int           // attempts for transient failures; 0 means 3
	// ClientOptions are passed to the Cloud KMS client (endpoint,
	// credentials); none means Application Default Credentials.
	ClientOptions []option.ClientOption
	// Sleep replaces the backoff sleep (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// ParseURI checks the part after "gcpkms:": a full key version name,
// projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V.
func ParseURI(rest string) (string, error) {
	if len(rest) > MaxNameLength {
		return "", fmt.Errorf("%w: gcpkms: name longer than %d", core.ErrInvalidURI, MaxNameLength)
	}
	parts := strings.Split(rest, "/")
	want := []string{"projects", "locations", "keyRings", "cryptoKeys", "cryptoKeyVersions"}
	if len(parts) != 2*len(want) {
		return "", fmt.Errorf("%w: gcpkms: want projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V", core.ErrInvalidURI)
	}
	for i, w := range want {
		if parts[2*i] != w || parts[2*i+1] == "" {
			return "", fmt.Errorf("%w: gcpkms: want projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V", core.ErrInvalidURI)
		}
	}
	return rest, nil
}

// Signer is a Cloud KMS Ed25519 key version. Close releases its connection.
type Signer struct {
	core.Remote
	client *kms.KeyManagementClient
}

// Close closes the client connection.
func (s *Signer) Close() error { return s.client.Close() }

// Open checks rest (the URI after "gcpkms:"), fetches the public key and
// checks it is EC_SIGN_ED25519.
func Open(ctx context.Context, rest string, c Config) (_ *Signer, err error) {
	name, err := ParseURI(rest)
	if err != nil {
		return nil, err
	}
	policy := core.Policy{Timeout: c.Timeout, MaxAttempts: c.MaxAttempts, Sleep: c.Sleep}.Normalize()
	client, err := kms.NewKeyManagementClient(ctx, c.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("signer: gcpkms: client: %w", err)
	}
	defer func() {
		if err != nil {
			client.Close()
		}
	}()
	// Retries are ours (core.Do): drop the client's default retry options.
	client.CallOptions.GetPublicKey = nil
	client.CallOptions.AsymmetricSign = nil

	var pk *kmspb.PublicKey
	err = core.Do(ctx, policy, transient, func(ctx context.Context) error {
		var err error
		pk, err = client.GetPublicKey(ctx, &kmspb.GetPublicKeyRequest{Name: name})
		if err != nil {
			return err
		}
		if pk.GetName() != name {
			return fmt.Errorf("response names key %q, want %q", pk.GetName(), name)
		}
		if pk.GetPemCrc32C() == nil || pk.GetPemCrc32C().GetValue() != crc32c([]byte(pk.GetPem())) {
			return fmt.Errorf("public key: %w", errCorrupted)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("signer: gcpkms: get public key of %s: %w", name, err)
	}
	if alg := pk.GetAlgorithm(); alg != kmspb.CryptoKeyVersion_EC_SIGN_ED25519 {
		return nil, fmt.Errorf("%w: gcpkms: key %s has algorithm %s, want EC_SIGN_ED25519", core.ErrUnsupportedKey, name, alg)
	}
	block, _ := pem.Decode([]byte(pk.GetPem()))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: gcpkms: key %s: public key is not a PEM PUBLIC KEY block", core.ErrUnsupportedKey, name)
	}
	spki, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: gcpkms: key %s: %w", core.ErrUnsupportedKey, name, err)
	}
	pub, err := core.PublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("gcpkms: key %s: %w", name, err)
	}
	s := &Signer{client: client, Remote: core.Remote{
		Provider:  Scheme,
		ID:        Scheme + ":" + name,
		Pub:       pub,
		Policy:    policy,
		Transient: transient,
	}}
	s.SignOnce = func(ctx context.Context, msg []byte) ([]byte, error) {
		resp, err := client.AsymmetricSign(ctx, &kmspb.AsymmetricSignRequest{
			Name:       name,
			Data:       msg,
			DataCrc32C: wrapperspb.Int64(crc32c(msg)),
		})
		if err != nil {
			return nil, err
		}
		if resp.GetName() != name {
			return nil, fmt.Errorf("response names key %q, want %q", resp.GetName(), name)
		}
		if !resp.GetVerifiedDataCrc32C() {
			return nil, fmt.Errorf("request: %w", errCorrupted)
		}
		if resp.GetSignatureCrc32C() == nil || resp.GetSignatureCrc32C().GetValue() != crc32c(resp.GetSignature()) {
			return nil, fmt.Errorf("signature: %w", errCorrupted)
		}
		return resp.GetSignature(), nil
	}
	return s, nil
}

// transient: UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, ABORTED,
// DEADLINE_EXCEEDED from the server, and checksum mismatches.
func transient(err error) bool {
	if errors.Is(err, errCorrupted) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}
