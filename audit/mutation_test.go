package audit

// Rejecting tests for checks a mutation review found unguarded: each test
// fails when the check it names is removed or weakened.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// wantProblem fails t unless rep is not OK and has a problem at line whose
// reason contains reason.
func wantProblem(t *testing.T, rep *Report, line int, reason string) {
	t.Helper()
	if rep.OK {
		t.Fatalf("not detected (want line %d: %s):\n%s", line, reason, rep)
	}
	for _, p := range rep.Problems {
		if p.Line == line && strings.Contains(p.Reason, reason) {
			return
		}
	}
	t.Fatalf("want a problem at line %d: %q:\n%s", line, reason, rep)
}

// TestCheckpointMessageMatchesSpec guards every input of the signed
// checkpoint message against docs/audit.md §3, recomputed here from the
// formula: dropping the final flag, head_seq, head, time or stream from
// the message (in the emitter and the verifier alike, so no round trip
// notices) lets a forger change that field under a valid signature.
func TestCheckpointMessageMatchesSpec(t *testing.T) {
	lp := func(s string) []byte {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		return append(n[:], s...)
	}
	spec := func(stream string, headSeq uint64, head [32]byte, time string, final bool) [32]byte {
		var m []byte
		m = append(m, lp(stream)...)
		m = binary.BigEndian.AppendUint64(m, headSeq)
		m = append(m, head[:]...)
		m = append(m, lp(time)...)
		if final {
			m = append(m, 1)
		} else {
			m = append(m, 0)
		}
		var out [32]byte
		blake3.DeriveKey("a1-go::audit::checkpoint::v1", m, out[:])
		return out
	}
	var head [32]byte
	for i := range head {
		head[i] = byte(i)
	}
	seen := map[[32]byte]string{}
	for _, tc := range []struct {
		stream  string
		headSeq uint64
		head    [32]byte
		time    string
		final   bool
	}{
		{"s", 7, head, "2026-01-02T03:04:05Z", false},
		{"s", 7, head, "2026-01-02T03:04:05Z", true},
		{"s", 8, head, "2026-01-02T03:04:05Z", false},
		{"s", 7, [32]byte{}, "2026-01-02T03:04:05Z", false},
		{"s", 7, head, "2026-01-02T03:04:06Z", false},
		{"t", 7, head, "2026-01-02T03:04:05Z", false},
	} {
		got := CheckpointMessage(tc.stream, tc.headSeq, tc.head, tc.time, tc.final)
		if want := spec(tc.stream, tc.headSeq, tc.head, tc.time, tc.final); got != want {
			t.Errorf("CheckpointMessage(%+v) = %x, want %x (docs/audit.md §3)", tc, got, want)
		}
		name := hex.EncodeToString(got[:])
		if prev, dup := seen[got]; dup {
			t.Errorf("%+v and %s sign the same message", tc, prev)
		}
		seen[got] = name
	}
}

// TestVerifyFinalFlagIsSigned guards the final flag's place in the
// signature (and so RequireFinal): a tail cut after an ordinary checkpoint
// whose "final" is then set (and the line re-digested) must not pass as a
// cleanly closed stream.
func TestVerifyFinalFlagIsSigned(t *testing.T) {
	key := testKey(t)
	signed := chainLines(t, 6, 3, key) // 1 2 3 CP(4) 5 6 7 CP(8) final CP(9)
	l := clone(signed[:4])
	if !bytes.Contains(l[3], []byte(`"head_seq":3,`)) || bytes.Contains(l[3], []byte(`"final"`)) {
		t.Fatalf("unexpected fixture: %s", l[3])
	}
	l[3] = reDigest(t, bytes.Replace(l[3], []byte(`"head":"`+digestOf(l[2])+`",`),
		[]byte(`"head":"`+digestOf(l[2])+`","final":true,`), 1))
	rep := verifyBytes(t, join(l), VerifyOptions{RequireFinal: true, RequireStart: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	wantProblem(t, rep, 4, "checkpoint signature does not verify")
	if rep.Streams[0].Final {
		t.Fatalf("a forged final flag counts as final: %+v", rep.Streams[0])
	}
}

// TestVerifyHistoryRewrittenUnderCheckpoint guards the comparison of a
// checkpoint's head with the digest of the event at head_seq: anyone with
// write access can edit an event and re-chain every later line (the digest
// is not keyed), keeping the signed checkpoint bodies, whose signatures
// still verify. Only the head comparison finds it.
func TestVerifyHistoryRewrittenUnderCheckpoint(t *testing.T) {
	key := testKey(t)
	signed := chainLines(t, 6, 3, key) // 1 2 3 CP(4) 5 6 7 CP(8) final CP(9)
	var out [][]byte
	prev := ZeroDigest
	for i, l := range signed {
		ev := decodeLine(t, l)
		if i == 1 {
			ev.Decision, ev.ErrorCode = DecisionAllow, ""
		}
		line := forge(t, ev, ev.Seq, prev)
		out = append(out, line)
		prev = digestOf(line)
	}
	rep := verifyBytes(t, join(out), VerifyOptions{RequireFinal: true, RequireStart: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	wantProblem(t, rep, 4, "checkpoint head does not match the digest of seq 3")
	wantProblem(t, rep, 9, "checkpoint head does not match the digest of seq 8")
	if s := rep.Streams[0]; s.Final || s.SignedSeq != 0 {
		t.Fatalf("rewritten history counted as signed: %+v", s)
	}
}

// TestVerifyConflictingDuplicate guards the report of a second, different
// event with a seq already seen: a forged event given an old seq (and a
// valid digest) is otherwise not reported at all.
func TestVerifyConflictingDuplicate(t *testing.T) {
	base := chainLines(t, 8, 0, nil)
	ev := decodeLine(t, base[2])
	ev.Decision, ev.ErrorCode, ev.Intent = DecisionAllow, "", "wire.transfer"
	forged := forge(t, ev, 3, digestOf(base[1]))
	l := clone(base)
	l = append(l[:5], append([][]byte{forged}, l[5:]...)...) // after seq 5
	rep := verifyBytes(t, join(l), VerifyOptions{})
	wantProblem(t, rep, 6, "conflicting duplicate: seq 3 already at line 3")
}

// TestVerifyAnchors guards the two anchor checks not covered elsewhere: an
// anchor whose digest differs from the input's event at its seq (the
// stream was rewritten after the head was shipped), and an anchored stream
// missing from the input (deleted whole).
func TestVerifyAnchors(t *testing.T) {
	base := chainLines(t, 6, 0, nil)
	stream := streamOf(base[0])
	rep := verifyBytes(t, join(base), VerifyOptions{Anchors: []Anchor{{Stream: stream, Seq: 4, Digest: digestOf(base[4])}}})
	wantProblem(t, rep, 4, "anchor digest mismatch at seq 4")
	rep = verifyBytes(t, join(base), VerifyOptions{Anchors: []Anchor{{Stream: "gone", Seq: 2, Digest: digestOf(base[1])}}})
	wantProblem(t, rep, 0, "truncated: anchored stream gone (seq 2) not in the input")
	rep = verifyBytes(t, join(base), VerifyOptions{Anchors: []Anchor{{Stream: stream, Seq: 4, Digest: digestOf(base[3])}}})
	if !rep.OK {
		t.Fatalf("matching anchor:\n%s", rep)
	}
}

// TestVerifyStreamStartAndSchema guards three per-event checks: the first
// event of a stream must have the zero prev, a version other than 1 is
// refused (also on the last line, where no later prev link notices the
// edit), and seq 0 is refused (also as a stream's only event, which
// otherwise passes as a stream starting late).
func TestVerifyStreamStartAndSchema(t *testing.T) {
	base := chainLines(t, 3, 0, nil)
	first := decodeLine(t, base[0])
	rep := verifyBytes(t, join([][]byte{forge(t, first, 1, digestOf(base[2]))}), VerifyOptions{})
	wantProblem(t, rep, 1, "broken prev link: seq 1 must have prev = 64 zeros")

	l := clone(base)
	l[2] = reDigest(t, bytes.Replace(l[2], []byte(`{"v":1,`), []byte(`{"v":2,`), 1))
	rep = verifyBytes(t, join(l), VerifyOptions{})
	wantProblem(t, rep, 3, "unsupported schema version 2")

	rep = verifyBytes(t, join([][]byte{forge(t, first, 0, ZeroDigest)}), VerifyOptions{})
	wantProblem(t, rep, 1, "missing stream or seq")
}

// TestVerifyUppercaseDigest guards the lowercase rule of a line's digest
// (docs/audit.md §1: 64 lowercase hex): the same digest in capitals on the
// last line, where no later prev link compares it, is refused.
func TestVerifyUppercaseDigest(t *testing.T) {
	l := clone(chainLines(t, 3, 0, nil))
	d := digestOf(l[2])
	if strings.ToUpper(d) == d {
		t.Skip("digest without letters")
	}
	l[2] = bytes.Replace(l[2], []byte(d), []byte(strings.ToUpper(d)), 1)
	rep := verifyBytes(t, join(l), VerifyOptions{})
	wantProblem(t, rep, 3, "no valid digest")
}

// hookSigner signs with an Ed25519 key after calling onSign.
type hookSigner struct {
	ed25519.PrivateKey
	onSign func()
}

func (h hookSigner) Sign(r io.Reader, msg []byte, o crypto.SignerOpts) ([]byte, error) {
	h.onSign()
	return h.PrivateKey.Sign(r, msg, o)
}

// TestEmitWhileClosingNotSealed guards the emitter's refusal of events once
// Close has started: Close signs the head before it seals the final
// checkpoint, and an event sealed in between would sit unsigned before the
// final checkpoint (which the verifier reports as inserted). The event
// emitted while the final checkpoint is being signed is not recorded, and
// the stream verifies with RequireFinal.
func TestEmitWhileClosingNotSealed(t *testing.T) {
	key := testKey(t)
	c := &collect{}
	var e *Emitter
	closing := false
	var during Event
	signer := hookSigner{PrivateKey: key, onSign: func() {
		if closing {
			during = e.Emit(sample(99))
		}
	}}
	e, err := NewEmitter(Config{Sinks: []Sink{c}, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.Emit(sample(i))
	}
	closing = true
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if during.Seq != 0 {
		t.Fatalf("event emitted while Close signs was sealed at seq %d", during.Seq)
	}
	rep := verifyBytes(t, c.ndjson(), VerifyOptions{RequireFinal: true, RequireStart: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	if !rep.OK || !rep.Streams[0].Final {
		t.Fatalf("stream closed while an event was emitted:\n%s", rep)
	}
}

// TestNewEmitterRefusesBadConfig guards NewEmitter's checks: a negative
// checkpoint setting (a negative CheckpointInterval would panic the
// checkpoint goroutine's ticker) and a signer whose public key is not 32
// bytes (its checkpoints could never verify).
func TestNewEmitterRefusesBadConfig(t *testing.T) {
	key := testKey(t)
	for name, cfg := range map[string]Config{
		"negative CheckpointEvery":    {Signer: key, CheckpointEvery: -1},
		"negative CheckpointInterval": {Signer: key, CheckpointInterval: -time.Second},
		"short public key":            {Signer: shortKeySigner{key}},
	} {
		if e, err := NewEmitter(cfg); err == nil {
			e.Close(context.Background())
			t.Errorf("%s: NewEmitter accepted it", name)
		}
	}
}

type shortKeySigner struct{ ed25519.PrivateKey }

func (s shortKeySigner) Public() crypto.PublicKey { return ed25519.PublicKey(make([]byte, 31)) }

// TestAsyncRetryAfterCapped guards the cap of a server's Retry-After at
// MaxRetryAfter: without it one answer can stall a sink for as long as the
// server says, while its queue fills and events are dropped.
func TestAsyncRetryAfterCapped(t *testing.T) {
	s := &scripted{script: []error{&RetryAfterError{After: 24 * time.Hour, Err: errors.New("HTTP 429")}}}
	a, m, waits := newTestAsync(t, s, AsyncOptions{MaxAttempts: 3, FlushInterval: time.Hour})
	a.Submit(rec(1))
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] != MaxRetryAfter {
		t.Fatalf("waits = %v, want one of MaxRetryAfter (%v)", *waits, MaxRetryAfter)
	}
	if count(m.Sent, "test") != 1 {
		t.Fatalf("sent = %v, want 1", count(m.Sent, "test"))
	}
}

// failingEncoder is a Sender whose Encode fails for odd seqs.
type failingEncoder struct{ scripted }

func (f *failingEncoder) Encode(r Record) ([]byte, error) {
	if r.Event.Seq%2 == 1 {
		return nil, errors.New("unencodable")
	}
	return r.Line, nil
}

// TestAsyncEncodeFailureCounted guards the drop accounting of an entry the
// sink cannot encode: it is counted under reason "encode", never lost
// silently, and the others are delivered.
func TestAsyncEncodeFailureCounted(t *testing.T) {
	s := &failingEncoder{}
	a, m, _ := newTestAsync(t, s, AsyncOptions{FlushInterval: time.Hour})
	for i := range 4 {
		a.Submit(rec(i))
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(m.Dropped, "test", DropEncode); got != 2 {
		t.Fatalf("dropped[encode] = %v, want 2", got)
	}
	if got := count(m.Sent, "test"); got != 2 {
		t.Fatalf("sent = %v, want 2", got)
	}
}

// TestAsyncByteBoundsExact guards the byte bounds of entries and batches,
// separator included, at their exact limits: an entry of MaxEntryBytes
// bytes does not fit (it needs one more for its separator), a batch never
// exceeds MaxBatchBytes counting separators, and MaxEntryBytes is capped at
// MaxBatchBytes (an entry that fits no batch is dropped, not sent alone in
// an oversized batch).
func TestAsyncByteBoundsExact(t *testing.T) {
	line := func(n int) Record { return Record{Event: &Event{}, Line: bytes.Repeat([]byte("x"), n)} }
	s := &scripted{}
	a, m, _ := newTestAsync(t, s, AsyncOptions{MaxBatchBytes: 40, MaxEntryBytes: 20, FlushInterval: time.Hour})
	for _, n := range []int{12, 12, 14, 19, 20} {
		a.Submit(line(n))
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sizes [][]int
	for _, b := range s.batches {
		var sz []int
		total := 0
		for _, e := range b {
			sz = append(sz, len(e.Data))
			total += len(e.Data) + 1
		}
		if total > 40 {
			t.Errorf("batch %v is %d bytes with separators, limit 40", sz, total)
		}
		sizes = append(sizes, sz)
	}
	if got := count(m.Dropped, "test", DropTooLarge); got != 1 {
		t.Errorf("dropped[too_large] = %v, want 1 (the 20-byte entry); batches %v", got, sizes)
	}

	s = &scripted{}
	a, m, _ = newTestAsync(t, s, AsyncOptions{MaxBatchBytes: 30, FlushInterval: time.Hour})
	a.Submit(line(35))
	a.Submit(line(10))
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(m.Dropped, "test", DropTooLarge); got != 1 || len(s.batches) != 1 || len(s.batches[0]) != 1 {
		t.Fatalf("entry larger than MaxBatchBytes: dropped[too_large] = %v, %d batches; want it dropped and the other sent", got, len(s.batches))
	}
}

// refusing is a Sink that accepts nothing.
type refusing struct{ n int }

func (r *refusing) Submit(Record) bool          { r.n++; return false }
func (r *refusing) Close(context.Context) error { return nil }

// TestMultiSubmitReportsRefusal guards Multi's answer: a record one sink
// refused (and counted as dropped) is reported, while every sink still
// gets it.
func TestMultiSubmitReportsRefusal(t *testing.T) {
	c, r := &collect{}, &refusing{}
	if Multi(c, r).Submit(rec(1)) {
		t.Fatal("Submit reported success though a sink refused the record")
	}
	if len(c.lines) != 1 || r.n != 1 {
		t.Fatalf("sinks got %d and %d records, want 1 each", len(c.lines), r.n)
	}
	if !Multi(c, &collect{}).Submit(rec(2)) {
		t.Fatal("Submit reported a refusal though every sink accepted")
	}
}
