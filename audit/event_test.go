package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSealedLineIsCanonicalJSON(t *testing.T) {
	c := &collect{}
	e, err := NewEmitter(Config{Sinks: []Sink{c}, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	weird := []string{
		"", "plain", "<script>&\"quote\"\\", "\u2028\u2029", "\xff\xfe invalid utf8",
		strings.Repeat("é", MaxFieldBytes), "tab\tnl\nnul\x00", "emoji 🔐",
	}
	for i, s := range weird {
		ev := sample(i)
		ev.Intent, ev.Actor, ev.Subject = s, s, s
		if i%2 == 0 {
			ev.Hop = nil
		}
		sealed := e.Emit(ev)
		if sealed.Seq != uint64(i+1) {
			t.Fatalf("seq = %d, want %d", sealed.Seq, i+1)
		}
		line := c.lines[i]
		// The line is exactly encoding/json's encoding of the sealed event.
		want, err := json.Marshal(&sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(line, want) {
			t.Fatalf("line != json.Marshal(sealed):\n%s\n%s", line, want)
		}
		// Decoding and re-encoding is stable (no map ordering, no lossy strings).
		var back Event
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(&back)
		if !bytes.Equal(again, line) {
			t.Fatalf("round trip changed the line:\n%s\n%s", line, again)
		}
		computed, claimed, err := LineDigest(line)
		if err != nil || computed != claimed {
			t.Fatalf("LineDigest: %v, match=%v", err, computed == claimed)
		}
		// The digest is DK(ctx) over the marshalled event without "digest".
		back.Digest = ""
		pre, _ := json.Marshal(&back)
		if d := hashPreimage(pre); d != claimed {
			t.Fatal("digest is not over the encoding with digest omitted")
		}
		if len(back.Intent) > MaxFieldBytes {
			t.Fatalf("field not bounded: %d bytes", len(back.Intent))
		}
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(bytes.NewReader(c.ndjson()), VerifyOptions{RequireStart: true})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v\n%s", err, rep)
	}
}

func TestEmitDefaults(t *testing.T) {
	c := &collect{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	e, _ := NewEmitter(Config{Sinks: []Sink{c}, GatewayID: "gw1", Now: func() time.Time { return now }})
	ev := e.Emit(Event{Kind: KindCheckpoint, Action: "authorize", Decision: DecisionAllow,
		Checkpoint: &Checkpoint{HeadSeq: 9}})
	if ev.V != 1 || ev.Time != "2026-01-02T03:04:05.0000006Z" || ev.GatewayID != "gw1" {
		t.Fatalf("defaults not applied: %+v", ev)
	}
	if ev.Kind == KindCheckpoint || ev.Checkpoint != nil {
		t.Fatal("caller forged a checkpoint")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(ev.ID) {
		t.Fatalf("id %q is not a UUIDv7", ev.ID)
	}
	if ev.Prev != ZeroDigest || ev.Seq != 1 || ev.Stream != e.Stream() {
		t.Fatalf("chain fields: %+v", ev)
	}
	ev2 := e.Emit(Event{Kind: KindAdmin, Action: "cert.revoke", Decision: DecisionAllow, Actor: "ops"})
	if ev2.Prev != ev.Digest || ev2.Seq != 2 {
		t.Fatal("second event not linked to the first")
	}
	if s, d := e.Head(); s != 2 || d != ev2.Digest {
		t.Fatal("Head() wrong")
	}
	_ = e.Close(context.Background())
	if after := e.Emit(Event{Kind: KindAdmin}); after.Seq != 0 {
		t.Fatal("event sealed after Close")
	}
	if err := e.Close(context.Background()); err != ErrEmitterClosed {
		t.Fatalf("second Close = %v", err)
	}
}

func TestUUIDv7Time(t *testing.T) {
	ms := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()
	id := newUUIDv7(ms)
	got := strings.ReplaceAll(id[:13], "-", "")
	var v int64
	for _, ch := range got {
		v = v<<4 | int64(strings.IndexRune("0123456789abcdef", ch))
	}
	if v != ms {
		t.Fatalf("uuid time %d, want %d", v, ms)
	}
	if newUUIDv7(ms) == id {
		t.Fatal("uuid not random")
	}
}

func TestConcurrentEmitAndClose(t *testing.T) {
	c := &collect{}
	e, _ := NewEmitter(Config{Sinks: []Sink{c}, Signer: testKey(t), CheckpointEvery: 7})
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 300 {
				e.Emit(sample(i))
			}
		}()
	}
	<-done
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		<-done
	}
	rep, err := Verify(bytes.NewReader(c.ndjson()), VerifyOptions{RequireStart: true, RequireFinal: true})
	if err != nil || !rep.OK {
		t.Fatalf("%v\n%s", err, rep)
	}
}
