package awskms_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/awskms"
	"github.com/a1-go/a1/signer/awskms/awskmstest"
	"github.com/a1-go/a1/signer/signertest"
)

func noSleep(context.Context, time.Duration) error { return nil }

func testConfig() awskms.Config {
	return awskms.Config{
		AWS: &aws.Config{
			Region:      "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-never-logged", ""),
		},
		Sleep: noSleep,
	}
}

func open(t *testing.T, srv string, c awskms.Config) (*awskms.Signer, error) {
	t.Helper()
	return awskms.Open(context.Background(), "alias/a1-root?endpoint="+url.QueryEscape(srv), c)
}

func TestContract(t *testing.T) {
	f := awskmstest.New(t)
	signertest.Run(t, func(t *testing.T) signer.Signer {
		s, err := open(t, f.URL, testConfig())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenThroughSignerOpen(t *testing.T) {
	f := awskmstest.New(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-key-never-logged")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	s, err := signer.Open(context.Background(), "awskms:"+awskmstest.ARN+"?endpoint="+url.QueryEscape(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.KeyID(), "awskms:"+awskmstest.ARN; got != want {
		t.Fatalf("KeyID %q, want %q", got, want)
	}
	if !f.Public().Equal(s.Public()) {
		t.Fatal("public key differs from the KMS key")
	}
	msg := []byte("through signer.Open")
	sig, err := s.Sign(nil, msg, crypto.Hash(0))
	if err != nil || !ed25519.Verify(f.Public(), msg, sig) {
		t.Fatalf("Sign: %v", err)
	}
	if f.Calls("Sign") != 1 || f.Calls("GetPublicKey") != 1 {
		t.Fatalf("calls %v", f.AllCalls())
	}
}

func TestWrongKeySpec(t *testing.T) {
	f := awskmstest.New(t)
	f.SetKeySpec("ECC_NIST_P256")
	_, err := open(t, f.URL, testConfig())
	if !errors.Is(err, signer.ErrUnsupportedKey) || !strings.Contains(err.Error(), "ECC_NIST_P256") {
		t.Fatalf("Open = %v, want ErrUnsupportedKey naming the key spec", err)
	}
}

func TestBadSignatureRejected(t *testing.T) {
	f := awskmstest.New(t)
	s, err := open(t, f.URL, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	f.SetBadSignature(true)
	sig, err := s.Sign(nil, []byte("cert"), crypto.Hash(0))
	if !errors.Is(err, signer.ErrBadSignature) || sig != nil {
		t.Fatalf("Sign = %x, %v; want ErrBadSignature", sig, err)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  []string
		wantCalls int
		wantErr   bool
	}{
		{"500 then ok", []string{"500"}, 2, false},
		{"throttle twice then ok", []string{"throttle", "throttle"}, 3, false},
		{"500 exhausts attempts", []string{"500", "500", "500"}, 3, true},
		{"4xx not retried", []string{"400"}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := awskmstest.New(t)
			s, err := open(t, f.URL, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			f.Fail(tc.failures...)
			_, err = s.Sign(nil, []byte("m"), crypto.Hash(0))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sign error = %v, want error %v", err, tc.wantErr)
			}
			if got := f.Calls("Sign"); got != tc.wantCalls {
				t.Fatalf("%d Sign calls, want %d", got, tc.wantCalls)
			}
			if err != nil && strings.Contains(err.Error(), "secret-key-never-logged") {
				t.Fatal("error leaks the secret key")
			}
		})
	}
}

func TestOpenRetriesAndTimeout(t *testing.T) {
	f := awskmstest.New(t)
	f.Fail("500")
	if _, err := open(t, f.URL, testConfig()); err != nil {
		t.Fatalf("Open after one 500: %v", err)
	}
	if got := f.Calls("GetPublicKey"); got != 2 {
		t.Fatalf("%d GetPublicKey calls, want 2", got)
	}

	c := testConfig()
	c.Timeout = 50 * time.Millisecond
	s, err := open(t, f.URL, c)
	if err != nil {
		t.Fatal(err)
	}
	f.Fail("hang")
	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sign against a hung KMS = %v, want DeadlineExceeded", err)
	}
}

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    awskms.Ref
		wantErr bool
	}{
		{in: awskmstest.ARN, want: awskms.Ref{KeyID: awskmstest.ARN, Region: "eu-west-1"}},
		{in: "alias/a1?region=us-east-1&profile=prod", want: awskms.Ref{KeyID: "alias/a1", Region: "us-east-1", Profile: "prod"}},
		{in: awskmstest.ARN + "?region=us-east-2", want: awskms.Ref{KeyID: awskmstest.ARN, Region: "us-east-2"}},
		{in: "1234abcd?endpoint=https%3A%2F%2Fkms.example.internal", want: awskms.Ref{KeyID: "1234abcd", Endpoint: "https://kms.example.internal"}},
		{in: "", wantErr: true},
		{in: "?region=x", wantErr: true},
		{in: "k?regoin=x", wantErr: true},
		{in: "k?region=a&region=b", wantErr: true},
		{in: "k?endpoint=ftp://x", wantErr: true},
		{in: "arn:aws:s3:::bucket", wantErr: true},
		{in: strings.Repeat("k", awskms.MaxKeyIDLength+1), wantErr: true},
		{in: "k?region=", wantErr: true},
		{in: "k?profile=", wantErr: true},
		{in: "k?region=%zz", wantErr: true},
		{in: "k?endpoint=" + url.QueryEscape("https://user:pw@kms.example.internal"), wantErr: true},
		{in: "k?endpoint=" + url.QueryEscape("https://kms.example.internal/?x=1"), wantErr: true},
		{in: "k?endpoint=" + url.QueryEscape("https://kms.example.internal/#f"), wantErr: true},
		{in: "arn:aws:s3:::bucket?region=eu-west-1", wantErr: true},
	} {
		got, err := awskms.ParseURI(tc.in)
		if tc.wantErr {
			if !errors.Is(err, signer.ErrInvalidURI) {
				t.Errorf("ParseURI(%.40q) = %+v, %v; want ErrInvalidURI", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// A KMS (or anything at the endpoint) streaming an endless body is cut off
// at signer's response bound instead of being buffered until the deadline.
func TestHugeResponseRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"KeyId":"`))
		chunk := []byte(strings.Repeat("A", 64<<10))
		for i := 0; i < 64; i++ { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	_, err := open(t, srv.URL, testConfig())
	if err == nil || !strings.Contains(err.Error(), signer.ErrResponseTooLarge.Error()) {
		t.Fatalf("Open against a 4 MiB answer = %.300v, want ErrResponseTooLarge", err)
	}
}
