package gateway_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/signer/awskms/awskmstest"
)

// TestKMSKeyNeverOnAuthorizePath runs a gateway process whose issuing key
// lives in a (wire-level fake) AWS KMS and counts the Sign calls that reach
// it: issuance signs through the KMS, authorization (receipts included) and
// audit checkpoints make zero KMS calls. It also checks the start-up
// "key.rotate" audit events and that the audit stream, closed gracefully,
// verifies end to end with a signed final checkpoint.
func TestKMSKeyNeverOnAuthorizePath(t *testing.T) {
	kms := awskmstest.New(t)
	env := baseEnv(t)
	env["A1_SIGNING_KEY"] = "awskms:" + awskmstest.ARN + "?endpoint=" + url.QueryEscape(kms.URL)
	env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
	env["AWS_SECRET_ACCESS_KEY"] = "secret-key-never-logged"
	env["AWS_CONFIG_FILE"] = "/nonexistent"
	env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
	env["A1_AUDIT_CHECKPOINT_EVERY"] = "5"
	g := startGateway(t, env)

	if got := kms.Calls("Sign"); got != 0 {
		t.Fatalf("KMS Sign calls at start = %d, want 0", got)
	}
	d := g.discovery()
	gwPK, _ := d["gateway_signing_pk_hex"].(string)
	if gwPK != hex.EncodeToString(kms.Public()) {
		t.Fatalf("gateway public key %q is not the KMS key %x", gwPK, kms.Public())
	}
	receiptPK, _ := d["receipt_signing_pk_hex"].(string)
	if receiptPK == "" || receiptPK == gwPK {
		t.Fatalf("receipt key %q must be a separate local key", receiptPK)
	}
	audience, _ := d["gateway_id"].(string)

	// Issuance: exactly one KMS signature, and the cert verifies under the KMS key.
	tool := newKey(t)
	r := g.admin("POST", "/v1/cert/issue", map[string]any{
		"delegate_pk_hex": tool.pk.Hex(),
		"intents":         []map[string]any{{"name": "db.read", "params": map[string]string{"table": "orders"}}},
		"ttl_seconds":     600, "max_depth": 0,
	})
	if r.status != 201 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	if got := kms.Calls("Sign"); got != 1 {
		t.Fatalf("KMS Sign calls after one issuance = %d, want 1", got)
	}
	raw, _ := json.Marshal(r.body["chain"])
	chain, err := a1.DecodeSignedChain(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.PublicKey(chain.PrincipalPK[:]).Equal(kms.Public()) {
		t.Fatalf("issued chain's principal is not the KMS key")
	}

	// Authorization, many times (PoP keeps the chain reusable): no KMS call.
	intent := hashOf(t, "db.read", map[string]string{"table": "orders"})
	const n = 25
	for i := range n {
		p, err := a1.SignPoP(tool.signer(), audience, chain.Fingerprint(), intent, now())
		if err != nil {
			t.Fatal(err)
		}
		a := g.post("/v1/authorize", map[string]any{"chain": json.RawMessage(raw), "intent_name": "db.read",
			"intent_params": map[string]string{"table": "orders"}, "executor_pk_hex": tool.pk.Hex(),
			"proof": p.JSON(), "return_token": true})
		if a.status != 200 {
			t.Fatalf("authorize %d: %d %s", i, a.status, a.raw)
		}
		if a.body["receipt_signature_hex"] == "" {
			t.Fatalf("authorize %d: no receipt signature: %s", i, a.raw)
		}
	}
	if got := kms.Calls("Sign"); got != 1 {
		t.Fatalf("KMS Sign calls after %d authorizations = %d, want still 1", n, got)
	}

	g.stop()
	if got := kms.Calls("Sign"); got != 1 {
		t.Fatalf("KMS Sign calls after shutdown (final checkpoint) = %d, want still 1", got)
	}

	// The audit trail: key events first, then a verifiable, signed stream.
	out := g.audit.String()
	var rotations []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if e.Action == "key.rotate" {
			rotations = append(rotations, e.Subject)
		}
	}
	wantSigning := "role=signing key_id=awskms:" + awskmstest.ARN + " public_key=" + gwPK
	if len(rotations) != 3 || rotations[0] != wantSigning ||
		rotations[1] != "role=receipt public_key="+receiptPK+" ephemeral=true" ||
		!strings.HasPrefix(rotations[2], "role=mac key_id=") {
		t.Fatalf("key.rotate subjects = %q", rotations)
	}
	if strings.Contains(out, "secret-key-never-logged") {
		t.Fatal("a credential reached the audit stream")
	}
	rpk, _ := hex.DecodeString(receiptPK)
	rep, err := audit.Verify(strings.NewReader(out), audit.VerifyOptions{
		TrustedKeys: []ed25519.PublicKey{rpk}, RequireStart: true, RequireFinal: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Streams) != 1 || !rep.Streams[0].Final || rep.Streams[0].Checkpoints < 2 {
		t.Fatalf("audit verify: %s", rep)
	}
	if strings.Contains(g.stderr.String(), "secret-key-never-logged") {
		t.Fatal("a credential reached the log")
	}
}
