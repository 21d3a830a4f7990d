package a1_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/a1-go/a1"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors/a1-go-envelopes.json")

const envelopesPath = "testdata/vectors/a1-go-envelopes.json"

// envelopeVectors computes the vectors of our own envelopes (docs/spec.md):
// proof of possession, signed revocation, receipt signature and nonce key,
// from the reference vector keys and fixed inputs.
func envelopeVectors(t *testing.T) map[string]any {
	v := loadVectors(t)
	sc, err := a1.DecodeSignedChain([]byte(s(v, "chain_2hop", "signed_chain_json")))
	if err != nil {
		t.Fatal(err)
	}
	agentB := keyOf(t, v, "agent_b")
	root := keyOf(t, v, "root")
	gateway := keyOf(t, v, "passport_holder")
	chainFP := sc.Fingerprint()
	intent, _ := a1.HashIntent("trade.equity", nil)
	nonce := [16]byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
	const audience = "a1-gateway-test"
	const at = 1700000100

	popDigest := a1.PoPDigest(audience, chainFP, intent, nonce, at)
	popSig := ed25519.Sign(agentB, popDigest[:])

	read, _ := a1.HashIntent("portfolio.read", nil)
	batch := a1.BatchIntentHash([]a1.IntentHash{intent, read})
	batchDigest := a1.PoPDigest(audience, chainFP, batch, nonce, at)
	batchSig := ed25519.Sign(agentB, batchDigest[:])

	fp1 := sc.Certs[1].Fingerprint()
	revDigest := a1.RevocationDigest(audience, fp1, at, "key compromised")
	revSig := ed25519.Sign(root, revDigest[:])

	rc := a1.Receipt{ChainDepth: 2, VerifiedScopeRoot: sc.Certs[1].ScopeRoot, Intent: intent, VerifiedAtUnix: at, ChainFingerprint: chainFP}
	rcDigest := rc.SigningDigest()
	rcSig := ed25519.Sign(gateway, rcDigest[:])

	nk := a1.NonceKey(sc.Certs[1].DelegatorPK, sc.Certs[1].Nonce)
	hx := hex.EncodeToString

	macKey := h32(t, s(v, "chain_2hop", "verified_token", "mac_key_hex"))
	var executor a1.PublicKey
	copy(executor[:], agentB.Public().(ed25519.PublicKey))
	bound, err := a1.NewBoundToken(rc, a1.TokenBinding{Audience: "trading-api", Executor: executor}, macKey)
	if err != nil {
		t.Fatal(err)
	}
	boundJSON, _ := bound.MarshalJSON()
	return map[string]any{
		"pop": map[string]any{
			"audience": audience, "chain_fingerprint_hex": hx(chainFP[:]), "intent_hex": intent.Hex(),
			"nonce_hex": hx(nonce[:]), "issued_at": at, "executor_pk_hex": hx(agentB.Public().(ed25519.PublicKey)),
			"digest_hex": hx(popDigest[:]), "signature_hex": hx(popSig),
		},
		"pop_batch": map[string]any{
			"audience": audience, "chain_fingerprint_hex": hx(chainFP[:]),
			"intents": []string{"trade.equity", "portfolio.read"}, "intent_hashes_hex": []string{intent.Hex(), read.Hex()},
			"batch_intent_hash_hex": batch.Hex(), "nonce_hex": hx(nonce[:]), "issued_at": at,
			"executor_pk_hex": hx(agentB.Public().(ed25519.PublicKey)), "digest_hex": hx(batchDigest[:]), "signature_hex": hx(batchSig),
		},
		"signed_revocation": map[string]any{
			"audience": audience, "index": 1, "fingerprint_hex": hx(fp1[:]), "issued_at": at, "reason": "key compromised",
			"revoker_pk_hex": hx(root.Public().(ed25519.PublicKey)), "digest_hex": hx(revDigest[:]), "signature_hex": hx(revSig),
		},
		"receipt_signature": map[string]any{
			"gateway_pk_hex": hx(gateway.Public().(ed25519.PublicKey)), "canonical_bytes_hex": hx(rc.CanonicalBytes()),
			"digest_hex": hx(rcDigest[:]), "signature_hex": hx(rcSig),
		},
		"bound_token": map[string]any{
			"mac_key_hex": hx(macKey[:]), "canonical_receipt_bytes_hex": hx(rc.CanonicalBytes()),
			"audience": "trading-api", "executor_pk_hex": executor.Hex(),
			"mac_hex": hx(bound.MAC[:]), "token_json": string(boundJSON),
		},
		"nonce_key": map[string]any{
			"issuer_pk_hex": sc.Certs[1].DelegatorPK.Hex(), "nonce_hex": hx(sc.Certs[1].Nonce[:]), "key_hex": hx(nk[:]),
		},
	}
}

func TestEnvelopeVectors(t *testing.T) {
	got, err := json.MarshalIndent(envelopeVectors(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(envelopesPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(envelopesPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("envelope vectors changed (a wire-format change needs an ADR); run go test -run TestEnvelopeVectors -update and review the diff:\n%s", got)
	}
	// The vectors verify through the public API, not only byte-compare.
	var e map[string]map[string]any
	_ = json.Unmarshal(want, &e)
	pk, _ := a1.ParsePublicKeyHex(e["pop"]["executor_pk_hex"].(string))
	d, _ := hex.DecodeString(e["pop"]["digest_hex"].(string))
	sig, _ := hex.DecodeString(e["pop"]["signature_hex"].(string))
	if !a1.VerifySignature(pk, d, sig) {
		t.Fatal("PoP vector does not verify")
	}
	gw, _ := a1.ParsePublicKeyHex(e["receipt_signature"]["gateway_pk_hex"].(string))
	v := loadVectors(t)
	sc, _ := a1.DecodeSignedChain([]byte(s(v, "chain_2hop", "signed_chain_json")))
	intent, _ := a1.HashIntent("trade.equity", nil)
	rc := a1.Receipt{ChainDepth: 2, VerifiedScopeRoot: sc.Certs[1].ScopeRoot, Intent: intent, VerifiedAtUnix: 1700000100, ChainFingerprint: sc.Fingerprint()}
	rsig, _ := hex.DecodeString(e["receipt_signature"]["signature_hex"].(string))
	if !a1.VerifyReceiptSignature(gw, &rc, rsig) {
		t.Fatal("receipt signature vector does not verify")
	}
	rc.VerifiedAtUnix++
	if a1.VerifyReceiptSignature(gw, &rc, rsig) {
		t.Fatal("receipt signature must cover verified_at_unix")
	}
}
