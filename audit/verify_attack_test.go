package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// forge re-encodes ev at (seq, prev) with a valid digest, as anyone with
// write access to the log can: the digest is not keyed.
func forge(t *testing.T, ev Event, seq uint64, prev string) []byte {
	t.Helper()
	ev.Seq, ev.Prev, ev.Digest = seq, prev, ""
	pre, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return appendDigest(pre, hexs(hashPreimage(pre)))
}

func decodeLine(t *testing.T, line []byte) Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// The checkpoint signature covers (stream, head_seq, head, time, final) but
// not the checkpoint's own seq and prev. A forger may thus insert events
// between the last signed head and the final checkpoint and re-chain the
// final checkpoint after them. The emitter always writes the final
// checkpoint right after its head (Close admits nothing else), so the
// verifier must require head_seq = seq-1 of a final checkpoint; otherwise
// RequireFinal with a trusted key passes a stream with unsigned events.
func TestVerifyEventsForgedBeforeFinalCheckpoint(t *testing.T) {
	key := testKey(t)
	signed := chainLines(t, 6, 3, key) // 1 2 3 CP(4) 5 6 7 CP(8) final CP(9)
	final := decodeLine(t, signed[8])
	if final.Checkpoint == nil || !final.Checkpoint.Final || final.Checkpoint.HeadSeq != 8 {
		t.Fatalf("unexpected fixture: %s", signed[8])
	}
	out := clone(signed[:8])
	prev := digestOf(out[7])
	for i := range 3 { // three fabricated "allow" decisions
		ev := decodeLine(t, signed[6])
		ev.Decision, ev.ErrorCode, ev.Intent = DecisionAllow, "", "wire.transfer"
		ev.ID = ev.ID[:len(ev.ID)-1] + string(rune('a'+i))
		line := forge(t, ev, uint64(9+i), prev)
		out = append(out, line)
		prev = digestOf(line)
	}
	out = append(out, forge(t, final, 12, prev))
	opts := VerifyOptions{RequireStart: true, RequireFinal: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	rep := verifyBytes(t, join(out), opts)
	if rep.OK {
		t.Fatalf("events inserted before the final checkpoint not detected:\n%s", rep)
	}
	if len(rep.Problems) == 0 || rep.Problems[0].Line != 12 ||
		!strings.Contains(rep.Problems[0].Reason, "final checkpoint") {
		t.Fatalf("want a final-checkpoint problem at line 12:\n%s", rep)
	}
	if rep.Streams[0].Final {
		t.Fatalf("a misplaced final checkpoint must not count as final: %+v", rep.Streams[0])
	}
}

// A stream id comes from the (untrusted) input and is printed in reasons
// and kept per stream: it must be bounded, and must not carry control
// characters (ANSI escapes or newlines could rewrite the report on a
// terminal, e.g. erase the FAILED lines or fake an OK line).
func TestVerifyHostileStreamIDs(t *testing.T) {
	lines := chainLines(t, 3, 0, nil)
	for name, id := range map[string]string{
		"newline":      "x\nOK: 3 events in 1 streams, 0 signed checkpoints verified",
		"ansi":         "x\x1b[1A\x1b[2K",
		"del":          "x\x7f",
		"space":        "a b",
		"long":         strings.Repeat("s", 60<<10),
		"invalid utf8": "x\xff",
	} {
		t.Run(name, func(t *testing.T) {
			var out [][]byte
			prev := ZeroDigest
			for i, l := range lines {
				ev := decodeLine(t, l)
				ev.Stream = id
				line := forge(t, ev, uint64(i+2), prev) // starts at seq 2: a note naming the stream
				out = append(out, line)
				prev = digestOf(line)
			}
			rep := verifyBytes(t, join(out), VerifyOptions{RequireFinal: true})
			if rep.OK {
				t.Fatalf("stream id %q accepted:\n%.300s", id, rep)
			}
			s := rep.String()
			if strings.ContainsAny(s, "\x1b\x7f") || strings.Count(s, "\n") != len(rep.Problems)+len(rep.Notes)+1 {
				t.Fatalf("control characters from the input in the report:\n%q", s)
			}
			if len(s) > 4096 {
				t.Fatalf("report of %d bytes for 3 lines", len(s))
			}
			for _, p := range append(rep.Problems, rep.Notes...) {
				if len(p.Stream) > 128 {
					t.Fatalf("problem keeps a %d-byte stream id", len(p.Stream))
				}
			}
		})
	}
}

// An event emitted once Close has started cannot be recorded (it would
// follow the final checkpoint); it must at least reach the error log.
func TestEmitAfterCloseIsReported(t *testing.T) {
	var logged []error
	e, err := NewEmitter(Config{Sinks: []Sink{&collect{}}, ErrorLog: func(err error) { logged = append(logged, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := e.Emit(sample(1)); ev.Seq != 0 {
		t.Fatalf("event sealed after Close: %+v", ev)
	}
	if len(logged) != 1 || !errors.Is(logged[0], ErrEmitterClosed) {
		t.Fatalf("logged %v, want one ErrEmitterClosed", logged)
	}
}
