// Package awskmstest is a wire-level fake of the AWS KMS JSON 1.1 API
// (GetPublicKey and Sign with an Ed25519 key) for tests: the official SDK,
// or a gateway process started with an awskms: signing key URI, is pointed
// at it with the endpoint parameter. It counts every call, so a test can
// prove which operations reach the KMS.
package awskmstest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// ARN is the key the fake reports and the only one Sign accepts (a Sign for
// an alias is resolved by KMS to the key ARN; the fake answers with it too).
const ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// Failure kinds for Fail.
const (
	Fail500      = "500"      // KMSInternalException (retryable)
	FailThrottle = "throttle" // ThrottlingException (retryable)
	Fail400      = "400"      // AccessDeniedException (permanent)
	FailHang     = "hang"     // never answers
)

// Fake is the fake KMS. Its zero value is not usable: call New.
type Fake struct {
	// URL is the endpoint to pass as ?endpoint= in an awskms: URI.
	URL string

	priv ed25519.PrivateKey

	mu        sync.Mutex
	keySpec   string   // reported KeySpec; "" means ECC_NIST_EDWARDS25519
	failures  []string // next responses, see the Fail* kinds
	badSig    bool     // return a signature by another key
	calls     map[string]int
	lastInput map[string]any
}

// New starts a fake with a fresh Ed25519 key; it stops when the test ends.
func New(t testing.TB) *Fake {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{priv: priv, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Public is the key's Ed25519 public key.
func (f *Fake) Public() ed25519.PublicKey { return f.priv.Public().(ed25519.PublicKey) }

// Calls is how many requests reached op ("Sign", "GetPublicKey").
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// AllCalls is a copy of the per-operation call counts.
func (f *Fake) AllCalls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		m[k] = v
	}
	return m
}

// Fail makes the next len(kinds) requests fail as listed.
func (f *Fake) Fail(kinds ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, kinds...)
}

// SetKeySpec makes GetPublicKey report another key spec (with a P-256 key).
func (f *Fake) SetKeySpec(spec string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keySpec = spec
}

// SetBadSignature makes Sign answer with a signature by another key.
func (f *Fake) SetBadSignature(bad bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.badSig = bad
}

// LastInput is the JSON body of the last request.
func (f *Fake) LastInput() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastInput
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

// ServeHTTP answers one KMS JSON 1.1 request after checking its framing
// (POST /, X-Amz-Target TrentService.*, the JSON 1.1 content type and a
// SigV4 Authorization header).
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "TrentService.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(w, 400, "ValidationException", "bad request framing")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		writeErr(w, 400, "SerializationException", err.Error())
		return
	}
	f.mu.Lock()
	f.calls[op]++
	f.lastInput = in
	var failure string
	if len(f.failures) > 0 {
		failure, f.failures = f.failures[0], f.failures[1:]
	}
	keySpec, badSig := f.keySpec, f.badSig
	f.mu.Unlock()

	switch failure {
	case Fail500:
		writeErr(w, 500, "KMSInternalException", "internal")
		return
	case FailThrottle:
		writeErr(w, 400, "ThrottlingException", "rate exceeded")
		return
	case Fail400:
		writeErr(w, 400, "AccessDeniedException", "not allowed")
		return
	case FailHang:
		<-r.Context().Done()
		return
	}

	if in["KeyId"] == nil || in["KeyId"] == "" {
		writeErr(w, 400, "ValidationException", "KeyId missing")
		return
	}
	var out any
	switch op {
	case "GetPublicKey":
		spec, der := "ECC_NIST_EDWARDS25519", spki(f.priv.Public())
		algs := []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}
		if keySpec != "" {
			spec, algs = keySpec, []string{"ECDSA_SHA_256"}
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der = spki(k.Public())
		}
		out = map[string]any{"KeyId": ARN, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "PublicKey": der, "SigningAlgorithms": algs}
	case "Sign":
		if in["KeyId"] != ARN || in["SigningAlgorithm"] != "ED25519_SHA_512" || in["MessageType"] != "RAW" {
			writeErr(w, 400, "ValidationException", fmt.Sprintf("unexpected input %v", in))
			return
		}
		var msg []byte
		if err := json.Unmarshal([]byte(fmt.Sprintf("%q", in["Message"])), &msg); err != nil {
			writeErr(w, 400, "ValidationException", "Message is not base64")
			return
		}
		key := f.priv
		if badSig {
			_, key, _ = ed25519.GenerateKey(rand.Reader)
		}
		out = map[string]any{"KeyId": ARN, "Signature": ed25519.Sign(key, msg), "SigningAlgorithm": "ED25519_SHA_512"}
	default:
		writeErr(w, 400, "UnknownOperationException", op)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out) // []byte encodes as base64, as KMS blobs are
}

func spki(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // only Ed25519 and P-256 keys reach here
	}
	return der
}
