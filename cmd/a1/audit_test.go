package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a1-go/a1/audit"
)

type lineSink struct{ lines [][]byte }

func (s *lineSink) Submit(r audit.Record) bool {
	s.lines = append(s.lines, bytes.Clone(r.Line))
	return true
}
func (*lineSink) Close(context.Context) error { return nil }

// sealLine re-encodes ev with a valid digest, as anyone who can write the
// file can.
func sealLine(t *testing.T, ev audit.Event) []byte {
	t.Helper()
	ev.Digest = ""
	pre, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	line := append(pre[:len(pre)-1:len(pre)-1], []byte(`,"digest":"`+audit.ZeroDigest+`"}`)...)
	d, _, err := audit.LineDigest(line)
	if err != nil {
		t.Fatal(err)
	}
	return append(pre[:len(pre)-1:len(pre)-1], []byte(`,"digest":"`+hex.EncodeToString(d[:])+`"}`)...)
}

func decodeEvent(t *testing.T, line []byte) audit.Event {
	t.Helper()
	var ev audit.Event
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func writeLines(t *testing.T, name string, lines [][]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditVerifyForgeries(t *testing.T) {
	gw := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	forger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	gwHex := hex.EncodeToString(gw.Public().(ed25519.PublicKey))
	sink := &lineSink{}
	em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}, Signer: gw, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionDeny, Intent: "trade"})
	}
	if err := em.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := sink.lines // 1..6, final checkpoint 7
	strict := []string{"audit", "verify", "--require-start", "--require-final", "--trusted-key", gwHex}

	intact := writeLines(t, "intact.ndjson", lines)
	if out, errOut, code := runCLI(t, nil, append(strict, intact)...); code != 0 || !strings.HasPrefix(out, "OK: 7 events") {
		t.Fatalf("intact: code %d\n%s%s", code, out, errOut)
	}

	// Tail cut after seq 3, re-sealed with a final checkpoint of the forger.
	cut := lines[:3]
	final := decodeEvent(t, lines[6])
	final.Seq, final.Prev = 4, decodeEvent(t, cut[2]).Digest
	head, _ := hex.DecodeString(final.Prev)
	msg := audit.CheckpointMessage(final.Stream, 3, [32]byte(head), final.Time, true)
	sig, _ := forger.Sign(nil, msg[:], crypto.Hash(0))
	final.Checkpoint.HeadSeq, final.Checkpoint.Head = 3, final.Prev
	final.Checkpoint.PublicKey = hex.EncodeToString(forger.Public().(ed25519.PublicKey))
	final.Checkpoint.Signature = hex.EncodeToString(sig)
	resigned := writeLines(t, "resigned.ndjson", append(append([][]byte{}, cut...), sealLine(t, final)))
	out, errOut, code := runCLI(t, nil, append(strict, resigned)...)
	if code != 1 || !strings.Contains(out, "line 4: checkpoint signed by an untrusted key") ||
		!strings.Contains(out, "ends at seq 4 without a final checkpoint") {
		t.Fatalf("re-signed tail: code %d\n%s%s", code, out, errOut)
	}
	// Without a pinned key the forgery passes: the CLI must say so.
	out, errOut, code = runCLI(t, nil, "audit", "verify", "--require-final", resigned)
	if code != 0 || !strings.Contains(errOut, "a1: warning:") || !strings.Contains(errOut, "--trusted-key") {
		t.Fatalf("--require-final without --trusted-key: code %d, no warning\n%s%s", code, out, errOut)
	}

	// An event inserted before the genuine final checkpoint.
	ins := decodeEvent(t, lines[5])
	ins.Seq, ins.Prev, ins.Decision, ins.ID = 7, decodeEvent(t, lines[5]).Digest, audit.DecisionAllow, ins.ID[:35]+"f"
	insLine := sealLine(t, ins)
	final = decodeEvent(t, lines[6])
	final.Seq, final.Prev = 8, decodeEvent(t, insLine).Digest
	inserted := writeLines(t, "inserted.ndjson", append(append([][]byte{}, lines[:6]...), insLine, sealLine(t, final)))
	out, errOut, code = runCLI(t, nil, append(strict, inserted)...)
	if code != 1 || !strings.Contains(out, "line 8: final checkpoint covers seq 6 only: seq 7..7 not signed") {
		t.Fatalf("inserted before final: code %d\n%s%s", code, out, errOut)
	}
}
