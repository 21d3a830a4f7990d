package gcpkms_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/gcpkms"
	"github.com/a1-go/a1/signer/signertest"
)

const keyName = "projects/p/locations/global/keyRings/a1/cryptoKeys/root/cryptoKeyVersions/1"

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// fakeKMS implements GetPublicKey and AsymmetricSign of Cloud KMS over real
// gRPC, signing with a real Ed25519 key and checking CRC32C like the service.
type fakeKMS struct {
	kmspb.UnimplementedKeyManagementServiceServer
	priv ed25519.PrivateKey

	mu        sync.Mutex
	ecdsa     bool         // report an EC_SIGN_P256_SHA256 key
	failures  []codes.Code // next errors; codes.OK means "hang"
	badSig    bool
	badCRC    int // corrupt the next n signature checksums
	signCalls int
	pkCalls   int
}

func (f *fakeKMS) next() (codes.Code, bool) {
	if len(f.failures) == 0 {
		return 0, false
	}
	c := f.failures[0]
	f.failures = f.failures[1:]
	return c, true
}

func (f *fakeKMS) GetPublicKey(ctx context.Context, req *kmspb.GetPublicKeyRequest) (*kmspb.PublicKey, error) {
	f.mu.Lock()
	f.pkCalls++
	code, fail := f.next()
	isEC := f.ecdsa
	f.mu.Unlock()
	if fail {
		return nil, status.Error(code, "injected")
	}
	if req.GetName() != keyName {
		return nil, status.Error(codes.NotFound, "no such key")
	}
	var pub any = f.priv.Public()
	alg := kmspb.CryptoKeyVersion_EC_SIGN_ED25519
	if isEC {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, alg = k.Public(), kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return &kmspb.PublicKey{Name: keyName, Pem: p, PemCrc32C: wrapperspb.Int64(crc([]byte(p))), Algorithm: alg}, nil
}

func (f *fakeKMS) AsymmetricSign(ctx context.Context, req *kmspb.AsymmetricSignRequest) (*kmspb.AsymmetricSignResponse, error) {
	f.mu.Lock()
	f.signCalls++
	code, fail := f.next()
	badSig := f.badSig
	badCRC := f.badCRC > 0
	if badCRC {
		f.badCRC--
	}
	f.mu.Unlock()
	if fail && code == codes.OK {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if fail {
		return nil, status.Error(code, "injected")
	}
	if req.GetName() != keyName {
		return nil, status.Error(codes.NotFound, "no such key")
	}
	if req.GetDigest() != nil {
		return nil, status.Error(codes.InvalidArgument, "Ed25519 keys sign data, not a digest")
	}
	if req.GetDataCrc32C() == nil || req.GetDataCrc32C().GetValue() != crc(req.GetData()) {
		return nil, status.Error(codes.InvalidArgument, "data_crc32c mismatch")
	}
	key := f.priv
	if badSig {
		_, key, _ = ed25519.GenerateKey(nil)
	}
	sig := ed25519.Sign(key, req.GetData())
	sc := crc(sig)
	if badCRC {
		sc++
	}
	return &kmspb.AsymmetricSignResponse{Name: keyName, Signature: sig, SignatureCrc32C: wrapperspb.Int64(sc), VerifiedDataCrc32C: true}, nil
}

func newFake(t *testing.T) (*fakeKMS, []option.ClientOption) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	f := &fakeKMS{priv: priv}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, []option.ClientOption{
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

func open(t *testing.T, opts []option.ClientOption) (*gcpkms.Signer, error) {
	t.Helper()
	s, err := gcpkms.Open(context.Background(), keyName, gcpkms.Config{ClientOptions: opts, Sleep: noSleep})
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

func TestContract(t *testing.T) {
	_, opts := newFake(t)
	signertest.Run(t, func(t *testing.T) signer.Signer {
		s, err := open(t, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeyAndID(t *testing.T) {
	f, opts := newFake(t)
	s, err := open(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !f.priv.Public().(ed25519.PublicKey).Equal(s.Public()) {
		t.Fatal("public key differs from the KMS key")
	}
	if got := s.KeyID(); got != "gcpkms:"+keyName {
		t.Fatalf("KeyID %q", got)
	}
}

func TestWrongAlgorithm(t *testing.T) {
	f, opts := newFake(t)
	f.ecdsa = true
	_, err := open(t, opts)
	if !errors.Is(err, signer.ErrUnsupportedKey) || !strings.Contains(err.Error(), "EC_SIGN_P256_SHA256") {
		t.Fatalf("Open = %v, want ErrUnsupportedKey naming the algorithm", err)
	}
}

func TestBadSignatureRejected(t *testing.T) {
	f, opts := newFake(t)
	s, err := open(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.badSig = true
	f.mu.Unlock()
	if sig, err := s.Sign(nil, []byte("cert"), crypto.Hash(0)); !errors.Is(err, signer.ErrBadSignature) || sig != nil {
		t.Fatalf("Sign = %x, %v; want ErrBadSignature", sig, err)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  []codes.Code
		badCRC    int
		wantCalls int
		wantErr   bool
	}{
		{"unavailable then ok", []codes.Code{codes.Unavailable}, 0, 2, false},
		{"exhausted then ok", []codes.Code{codes.ResourceExhausted, codes.Internal}, 0, 3, false},
		{"checksum mismatch retried", nil, 1, 2, false},
		{"unavailable exhausts attempts", []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, 0, 3, true},
		{"permission denied not retried", []codes.Code{codes.PermissionDenied}, 0, 1, true},
		{"invalid argument not retried", []codes.Code{codes.InvalidArgument}, 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, opts := newFake(t)
			s, err := open(t, opts)
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.failures, f.badCRC = tc.failures, tc.badCRC
			f.mu.Unlock()
			_, err = s.Sign(nil, []byte("m"), crypto.Hash(0))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sign = %v, want error %v", err, tc.wantErr)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.signCalls != tc.wantCalls {
				t.Fatalf("%d AsymmetricSign calls, want %d", f.signCalls, tc.wantCalls)
			}
		})
	}
}

func TestOpenRetriesAndTimeout(t *testing.T) {
	f, opts := newFake(t)
	f.failures = []codes.Code{codes.Unavailable}
	s, err := gcpkms.Open(context.Background(), keyName, gcpkms.Config{ClientOptions: opts, Sleep: noSleep, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f.pkCalls != 2 {
		t.Fatalf("%d GetPublicKey calls, want 2", f.pkCalls)
	}
	f.mu.Lock()
	f.failures = []codes.Code{codes.OK} // hang
	f.mu.Unlock()
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sign against a hung KMS = %v, want DeadlineExceeded", err)
	}
}

func TestParseURI(t *testing.T) {
	if _, err := gcpkms.ParseURI(keyName); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"projects/p/locations/global/keyRings/a1/cryptoKeys/root",
		"projects/p/locations/global/keyRings/a1/cryptoKeys/root/cryptoKeyVersions/",
		"projects/p/locations/global/keyRings/a1/cryptoKeys/root/cryptoKeyVersions/1/extra/x",
		"project/p/locations/global/keyRings/a1/cryptoKeys/root/cryptoKeyVersions/1",
		"projects/" + strings.Repeat("p", gcpkms.MaxNameLength),
	} {
		if _, err := gcpkms.ParseURI(bad); !errors.Is(err, signer.ErrInvalidURI) {
			t.Errorf("ParseURI(%.50q) = %v, want ErrInvalidURI", bad, err)
		}
	}
	if _, err := signer.Open(context.Background(), "gcpkms:projects/p"); !errors.Is(err, signer.ErrInvalidURI) {
		t.Errorf("signer.Open = %v", err)
	}
}
