package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
)

// fuzzStream is a small signed stream: events, a periodic checkpoint, the
// final checkpoint.
func fuzzStream(f *testing.F) ([]byte, ed25519.PublicKey) {
	key := testKey(f)
	c := &collect{}
	e, err := NewEmitter(Config{Sinks: []Sink{c}, Signer: key, GatewayID: "gw"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 4 {
		e.Emit(sample(i))
		if i == 1 {
			if err := e.checkpoint(false); err != nil {
				f.Fatal(err)
			}
		}
	}
	if err := e.Close(context.Background()); err != nil {
		f.Fatal(err)
	}
	return c.ndjson(), key.Public().(ed25519.PublicKey)
}

// FuzzVerify feeds arbitrary input to the verifier: it must not panic, and
// its report must be consistent and printable.
func FuzzVerify(f *testing.F) {
	valid, pub := fuzzStream(f)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("{}\n\n{\"v\":1}\n"))
	f.Add([]byte(strings.Repeat("[", 20000)))
	opts := VerifyOptions{RequireStart: true, RequireFinal: true, TrustedKeys: []ed25519.PublicKey{pub}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK != (len(rep.Problems) == 0 && !rep.Truncated) {
			t.Fatalf("OK = %v with %d problems", rep.OK, len(rep.Problems))
		}
		if rep.Lines > bytes.Count(data, []byte("\n"))+1 || rep.Events > rep.Lines {
			t.Fatalf("%d lines, %d events from %d newlines", rep.Lines, rep.Events, bytes.Count(data, []byte("\n")))
		}
		s := rep.String()
		if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && (r < ' ' || r == 0x7f) }) {
			t.Fatalf("control character in the report: %q", s)
		}
		if !rep.OK && !strings.Contains(s, "FAILED") {
			t.Fatalf("failed report without FAILED: %q", s)
		}
	})
}

// FuzzVerifyByteFlip changes one byte of a valid signed stream: every such
// change must be detected (each byte is covered by its line's digest, the
// newlines by the line structure).
func FuzzVerifyByteFlip(f *testing.F) {
	valid, pub := fuzzStream(f)
	opts := VerifyOptions{RequireStart: true, RequireFinal: true, TrustedKeys: []ed25519.PublicKey{pub}}
	if rep, _ := Verify(bytes.NewReader(valid), opts); !rep.OK {
		f.Fatalf("fixture does not verify:\n%s", rep)
	}
	f.Add(uint(0), byte('x'))
	f.Add(uint(len(valid)-1), byte(' '))
	f.Add(uint(bytes.IndexByte(valid, '\n')), byte('\r'))
	f.Fuzz(func(t *testing.T, pos uint, b byte) {
		data := bytes.Clone(valid)
		i := int(pos % uint(len(data)))
		if data[i] == b {
			return
		}
		data[i] = b
		rep, err := Verify(bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK {
			t.Fatalf("byte %d changed to %q not detected:\n%s", i, b, rep)
		}
	})
}
