package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
)

// chainLines emits n events (plus checkpoints when every > 0) and returns
// the NDJSON lines, each without its newline.
func chainLines(t *testing.T, n, every int, signer ed25519.PrivateKey) [][]byte {
	t.Helper()
	c := &collect{}
	cfg := Config{Sinks: []Sink{c}, GatewayID: "gw"}
	if signer != nil {
		cfg.Signer, cfg.KeyID = signer, "k1"
	}
	e, err := NewEmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e.Emit(sample(i))
		if every > 0 && (i+1)%every == 0 {
			// Deterministic checkpoint placement for the test.
			if err := e.checkpoint(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.lines
}

func join(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func verifyBytes(t *testing.T, b []byte, opts VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(bytes.NewReader(b), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyIntact(t *testing.T) {
	key := testKey(t)
	lines := chainLines(t, 20, 5, key)
	rep := verifyBytes(t, join(lines), VerifyOptions{
		RequireStart: true, RequireFinal: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)},
	})
	if !rep.OK || len(rep.Notes) != 0 {
		t.Fatalf("intact chain fails:\n%s", rep)
	}
	if len(rep.Streams) != 1 || rep.Streams[0].Checkpoints != 5 || !rep.Streams[0].Final {
		t.Fatalf("summary: %+v", rep.Streams)
	}
	if !strings.HasPrefix(rep.String(), "OK: 25 events in 1 streams, 5 signed checkpoints") {
		t.Fatalf("String: %q", rep.String())
	}
}

func TestVerifyTamper(t *testing.T) {
	key := testKey(t)
	base := chainLines(t, 10, 0, nil) // lines 1..10, seq = line
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	signed := chainLines(t, 6, 3, key) // 1 2 3 CP(4) 5 6 7 CP(8) final CP(9)

	type want struct {
		line   int
		reason string
	}
	cases := []struct {
		name  string
		input func() []byte
		opts  VerifyOptions
		want  []want
	}{
		{"edit field", func() []byte {
			l := clone(base)
			l[3] = bytes.Replace(l[3], []byte(`"decision":"deny"`), []byte(`"decision":"allow"`), 1)
			return join(l)
		}, VerifyOptions{}, []want{{4, "digest mismatch"}}},
		{"edit field and digest", func() []byte {
			l := clone(base)
			l[3] = bytes.Replace(l[3], []byte(`"decision":"deny"`), []byte(`"decision":"allow"`), 1)
			l[3] = reDigest(t, l[3])
			return join(l)
		}, VerifyOptions{}, []want{{5, "broken prev link: prev does not match the digest of seq 4 at line 4"}}},
		{"delete line", func() []byte {
			l := clone(base)
			return join(append(l[:4], l[5:]...))
		}, VerifyOptions{}, []want{{5, "gap: seq 5 missing (seq 6 follows seq 4 at line 4)"}}},
		{"swap lines", func() []byte {
			l := clone(base)
			l[4], l[5] = l[5], l[4]
			return join(l)
		}, VerifyOptions{}, []want{{5, "gap: seq 5 missing"}, {6, "out of order: seq 5 after seq 6 at line 5"}}},
		{"duplicate line", func() []byte {
			l := clone(base)
			l = append(l[:7], append([][]byte{l[6]}, l[7:]...)...)
			return join(l)
		}, VerifyOptions{}, []want{{8, "duplicate: seq 7 already at line 7"}}},
		{"truncate last line", func() []byte {
			b := join(base)
			return b[:len(b)-20]
		}, VerifyOptions{}, []want{{10, "truncated: last line is incomplete"}}},
		{"missing final newline", func() []byte {
			b := join(base)
			return b[:len(b)-1]
		}, VerifyOptions{}, []want{{10, "truncated: last line has no terminating newline"}}},
		{"garbage line", func() []byte {
			l := clone(base)
			l[2] = []byte("{not json")
			return join(l)
		}, VerifyOptions{}, []want{{3, "malformed event"}, {4, "gap: seq 3 missing"}}},
		{"whitespace added", func() []byte {
			l := clone(base)
			l[1] = append([]byte(" "), l[1]...)
			return join(l)
		}, VerifyOptions{}, []want{{2, "digest mismatch"}}},
		{"unknown field with recomputed digest", func() []byte {
			l := clone(base)
			l[1] = bytes.Replace(l[1], []byte(`{"v":1,`), []byte(`{"v":1,"x":1,`), 1)
			l[1] = reDigest(t, l[1])
			return join(l)
		}, VerifyOptions{}, []want{{2, "non-canonical encoding"}, {3, "broken prev link"}}},
		{"head deleted, strict start", func() []byte {
			return join(clone(base)[2:])
		}, VerifyOptions{RequireStart: true}, []want{{1, "starts at seq 3: seq 1..2 missing"}}},
		{"tail cut, final required", func() []byte {
			return join(clone(signed)[:6])
		}, VerifyOptions{RequireFinal: true}, []want{{6, "truncated: stream " + streamOf(signed[0]) + " ends at seq 6 without a final checkpoint"}}},
		{"anchor beyond end", func() []byte {
			return join(clone(base)[:8])
		}, VerifyOptions{Anchors: []Anchor{{Stream: streamOf(base[0]), Seq: 10, Digest: digestOf(base[9])}}},
			[]want{{8, "truncated: anchor says seq 10 but stream " + streamOf(base[0]) + " ends at seq 8"}}},
		{"untrusted checkpoint key", func() []byte {
			return join(clone(signed))
		}, VerifyOptions{TrustedKeys: []ed25519.PublicKey{other.Public().(ed25519.PublicKey)}},
			[]want{{4, "untrusted key"}, {8, "untrusted key"}, {9, "untrusted key"}}},
		{"forged checkpoint signature", func() []byte {
			l := clone(signed)
			i := bytes.Index(l[3], []byte(`"signature":"`)) + len(`"signature":"`)
			if l[3][i] == '0' {
				l[3][i] = '1'
			} else {
				l[3][i] = '0'
			}
			l[3] = reDigest(t, l[3])
			return join(l[:4])
		}, VerifyOptions{}, []want{{4, "checkpoint signature does not verify"}}},
		{"event after final checkpoint", func() []byte {
			l := clone(signed)
			return join(append(l, l[0]))
		}, VerifyOptions{}, []want{{10, "event after the final checkpoint at line 9"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := verifyBytes(t, tc.input(), tc.opts)
			if rep.OK {
				t.Fatalf("tampering not detected:\n%s", rep)
			}
			if len(rep.Problems) < len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(rep.Problems), len(tc.want), rep)
			}
			for i, w := range tc.want {
				p := rep.Problems[i]
				if p.Line != w.line || !strings.Contains(p.Reason, w.reason) {
					t.Errorf("problem %d = %q, want line %d: %q\n%s", i, p, w.line, w.reason, rep)
				}
			}
			if !strings.Contains(rep.String(), "line ") || !strings.Contains(rep.String(), "FAILED") {
				t.Fatalf("String: %s", rep)
			}
		})
	}
}

func TestAutomaticCheckpoints(t *testing.T) {
	key := testKey(t)
	c := &collect{}
	e, err := NewEmitter(Config{Sinks: []Sink{c}, Signer: key, CheckpointEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	// The count-triggered checkpoint is written by the emitter's own
	// goroutine; a burst emitted faster than it is scheduled is covered by
	// one checkpoint, so each round of 10 waits for its checkpoint (no
	// timing assumption: a missing checkpoint fails after a long deadline).
	const rounds = 5
	for r := range rounds {
		for i := range 10 {
			e.Emit(sample(r*10 + i))
		}
		waitFor(t, func() bool { return c.checkpoints() == r+1 })
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, c.ndjson(), VerifyOptions{RequireFinal: true, RequireStart: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	// rounds automatic checkpoints, then Close's final one.
	if !rep.OK || rep.Streams[0].Checkpoints != rounds+1 || rep.Streams[0].SignedSeq != uint64(rep.Lines-1) {
		t.Fatalf("automatic checkpoints:\n%s\n%+v", rep, rep.Streams)
	}
}

func TestVerifyInterleavedStreams(t *testing.T) {
	a := chainLines(t, 5, 0, nil)
	b := chainLines(t, 5, 0, nil)
	var mixed [][]byte
	for i := range a {
		mixed = append(mixed, a[i], b[i])
	}
	rep := verifyBytes(t, join(mixed), VerifyOptions{RequireStart: true})
	if !rep.OK || len(rep.Streams) != 2 {
		t.Fatalf("interleaved streams:\n%s", rep)
	}
	// Deleting from one stream is reported for that stream only.
	mixed = append(mixed[:4], mixed[5:]...) // drops a[2] (line 5)
	rep = verifyBytes(t, join(mixed), VerifyOptions{})
	if len(rep.Problems) != 1 || rep.Problems[0].Line != 6 || rep.Problems[0].Stream != streamOf(a[0]) {
		t.Fatalf("want one gap in stream a at line 6:\n%s", rep)
	}
}

func clone(l [][]byte) [][]byte {
	out := make([][]byte, len(l))
	for i := range l {
		out[i] = bytes.Clone(l[i])
	}
	return out
}

// reDigest recomputes the digest of an edited line, as a forger would.
func reDigest(t *testing.T, line []byte) []byte {
	t.Helper()
	computed, _, err := LineDigest(line)
	if err != nil {
		t.Fatal(err)
	}
	pre := append(bytes.Clone(line[:len(line)-digestSuffixLen]), '}')
	return appendDigest(pre, hexs(computed))
}

func hexs(d [32]byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 64)
	for i, c := range d {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b)
}

func field(line []byte, name string) string {
	i := bytes.Index(line, []byte(`"`+name+`":"`))
	rest := line[i+len(name)+4:]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

func streamOf(line []byte) string { return field(line, "stream") }
func digestOf(line []byte) string { return field(line, "digest") }
