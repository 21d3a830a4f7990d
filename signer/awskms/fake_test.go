package awskms_test

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

const fakeARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// fakeKMS is a wire-level fake of the KMS JSON 1.1 API: GetPublicKey and
// Sign. It really signs with an Ed25519 key and checks the request fields.
type fakeKMS struct {
	t    *testing.T
	priv ed25519.PrivateKey

	mu        sync.Mutex
	keySpec   string   // reported KeySpec; "" means ECC_NIST_EDWARDS25519
	failures  []string // next responses: "500", "throttle", "400", "hang"
	badSig    bool     // return a signature by another key
	calls     map[string]int
	lastInput map[string]any
}

func newFake(t *testing.T) (*fakeKMS, *httptest.Server) {
	_, priv, _ := ed25519.GenerateKey(nil)
	f := &fakeKMS{t: t, priv: priv, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeKMS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeKMS) fail(kinds ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, kinds...)
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	case "500":
		writeErr(w, 500, "KMSInternalException", "internal")
		return
	case "throttle":
		writeErr(w, 400, "ThrottlingException", "rate exceeded")
		return
	case "400":
		writeErr(w, 400, "AccessDeniedException", "not allowed")
		return
	case "hang":
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
		spec, der := "ECC_NIST_EDWARDS25519", mustSPKI(f.t, f.priv.Public())
		algs := []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}
		if keySpec != "" {
			spec, algs = keySpec, []string{"ECDSA_SHA_256"}
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der = mustSPKI(f.t, k.Public())
		}
		out = map[string]any{"KeyId": fakeARN, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "PublicKey": der, "SigningAlgorithms": algs}
	case "Sign":
		if in["KeyId"] != fakeARN || in["SigningAlgorithm"] != "ED25519_SHA_512" || in["MessageType"] != "RAW" {
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
			_, key, _ = ed25519.GenerateKey(nil)
		}
		out = map[string]any{"KeyId": fakeARN, "Signature": ed25519.Sign(key, msg), "SigningAlgorithm": "ED25519_SHA_512"}
	default:
		writeErr(w, 400, "UnknownOperationException", op)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out) // []byte encodes as base64, as KMS blobs are
}

func mustSPKI(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
