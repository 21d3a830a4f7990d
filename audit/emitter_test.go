package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// eventMembers is Event's JSON member list. appendUnsealed writes these by
// hand; a new or reordered field must be added there too.
var eventMembers = []string{"v", "id", "time", "kind", "action", "decision", "error_code", "hop",
	"chain_fingerprint", "principal", "executor", "intent", "intent_hash", "namespace", "tenant",
	"request_id", "client_ip", "gateway_id", "actor", "subject", "batch_size", "latency_us",
	"checkpoint", "stream", "seq", "prev", "digest"}

func TestEventMembersUnchanged(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	var got []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		got = append(got, name)
	}
	if !reflect.DeepEqual(got, eventMembers) {
		t.Fatalf("Event members changed; update appendUnsealed:\n got %v\nwant %v", got, eventMembers)
	}
}

// wantUnsealed is encoding/json's encoding of ev, sealed with seq 0 and the
// zero prev, cut where appendUnsealed stops.
func wantUnsealed(t *testing.T, ev Event) []byte {
	t.Helper()
	ev.Seq, ev.Prev, ev.Digest = 0, ZeroDigest, ""
	b, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, preimagePlaceholder) {
		t.Fatalf("unexpected tail: %s", b)
	}
	return b[:len(b)-len(preimagePlaceholder)]
}

var trickyStrings = []string{
	"", "plain", "a1b2c3", "<", ">", "&", `"`, `\`, "\x00", "\x1f", "\t\n\r\b\f", "\x7f",
	"\u2028", "\u2029", "é", "🔐", "\xff\xfe", "mixed <b>&\"x\"\\y\u2028z", strings.Repeat("x", 300),
	"192.0.2.1", "2026-01-02T03:04:05.123456789Z", "0190f0e0-0000-7000-8000-000000000000",
}

func TestAppendUnsealedMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string { return trickyStrings[r.IntN(len(trickyStrings))] }
	ints := []int{0, 1, -1, 7, 1 << 30, -(1 << 31)}
	for i := range 5000 {
		ev := Event{V: ints[r.IntN(len(ints))], ID: str(), Time: str(), Kind: str(), Action: str(),
			Decision: str(), ErrorCode: str(), ChainFingerprint: str(), Principal: str(),
			Executor: str(), Intent: str(), IntentHash: str(), Namespace: str(), Tenant: str(),
			RequestID: str(), ClientIP: str(), GatewayID: str(), Actor: str(), Subject: str(),
			BatchSize: ints[r.IntN(len(ints))], LatencyUS: int64(ints[r.IntN(len(ints))]) * 3,
			Stream: str()}
		if r.IntN(2) == 0 {
			h := ints[r.IntN(len(ints))]
			ev.Hop = &h
		}
		got := appendUnsealed(nil, &ev)
		if want := wantUnsealed(t, ev); !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if appendUnsealed(nil, &Event{Checkpoint: &Checkpoint{}}) != nil {
		t.Fatal("a checkpoint event must take the encoding/json path")
	}
}

func FuzzAppendUnsealed(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		h := int(n)
		ev := Event{V: 1, ID: s, Time: s, Kind: s, Action: s, Decision: s, ErrorCode: s, Hop: &h,
			Intent: s, Subject: s, ClientIP: s, BatchSize: int(n), LatencyUS: n, Stream: s}
		if got, want := appendUnsealed(nil, &ev), wantUnsealed(t, ev); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
