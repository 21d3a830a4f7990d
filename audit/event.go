package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// Version is the schema version carried in every event's "v" field.
const Version = 1

// Domain-separation contexts (BLAKE3 derive-key mode).
const (
	// DigestContext derives the digest of an event.
	DigestContext = "a1-go::audit::v1"
	// CheckpointContext derives the message a checkpoint signs.
	CheckpointContext = "a1-go::audit::checkpoint::v1"
)

// Kinds of events.
const (
	KindAuthorize      = "authorize"
	KindAuthorizeBatch = "authorize_batch"
	KindAdmin          = "admin"
	KindCheckpoint     = "checkpoint"
)

// Decisions.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
	DecisionError = "error"
)

// ZeroDigest is the prev value of the first event of a stream.
const ZeroDigest = "0000000000000000000000000000000000000000000000000000000000000000"

// digestSuffixLen is len(`,"digest":"` + 64 hex + `"}`).
const digestSuffixLen = len(`,"digest":"`) + 64 + len(`"}`)

// Event is one audit record, schema version 1. The JSON field order is the
// struct order and is part of the format (docs/audit.md): never reorder.
// Fields marked omitempty are left out when empty. The chaining fields
// (Stream, Seq, Prev, Digest) and V, ID, Time are set by the Emitter.
type Event struct {
	V                int         `json:"v"`
	ID               string      `json:"id"`
	Time             string      `json:"time"`
	Kind             string      `json:"kind"`
	Action           string      `json:"action"`
	Decision         string      `json:"decision"`
	ErrorCode        string      `json:"error_code,omitempty"`
	Hop              *int        `json:"hop,omitempty"`
	ChainFingerprint string      `json:"chain_fingerprint,omitempty"`
	Principal        string      `json:"principal,omitempty"`
	Executor         string      `json:"executor,omitempty"`
	Intent           string      `json:"intent,omitempty"`
	IntentHash       string      `json:"intent_hash,omitempty"`
	Namespace        string      `json:"namespace,omitempty"`
	Tenant           string      `json:"tenant,omitempty"`
	RequestID        string      `json:"request_id,omitempty"`
	ClientIP         string      `json:"client_ip,omitempty"`
	GatewayID        string      `json:"gateway_id,omitempty"`
	Actor            string      `json:"actor,omitempty"`
	Subject          string      `json:"subject,omitempty"`
	BatchSize        int         `json:"batch_size,omitempty"`
	LatencyUS        int64       `json:"latency_us,omitempty"`
	Checkpoint       *Checkpoint `json:"checkpoint,omitempty"`
	Stream           string      `json:"stream"`
	Seq              uint64      `json:"seq"`
	Prev             string      `json:"prev"`
	Digest           string      `json:"digest,omitempty"`
}

// Checkpoint is the body of a "checkpoint" event: an Ed25519 signature over
// the head of the stream at HeadSeq (see CheckpointMessage).
type Checkpoint struct {
	HeadSeq   uint64 `json:"head_seq"`
	Head      string `json:"head"`
	Final     bool   `json:"final,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
}

// CheckpointMessage is the 32-byte message a checkpoint signs:
//
//	DK("a1-go::audit::checkpoint::v1")[ LP(stream) ‖ BE64(head_seq) ‖ head(32) ‖ LP(time) ‖ final(1) ]
//
// where LP(s) = LE64(len(s)) ‖ s and time is the checkpoint event's "time".
func CheckpointMessage(stream string, headSeq uint64, head [32]byte, time string, final bool) [32]byte {
	h := blake3.NewDeriveKey(CheckpointContext)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(stream)))
	h.Write(n[:])
	h.WriteString(stream)
	binary.BigEndian.PutUint64(n[:], headSeq)
	h.Write(n[:])
	h.Write(head[:])
	binary.LittleEndian.PutUint64(n[:], uint64(len(time)))
	h.Write(n[:])
	h.WriteString(time)
	if final {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// verifyCheckpoint checks the signature of a checkpoint event.
func verifyCheckpoint(e *Event) error {
	c := e.Checkpoint
	pk, err := hex.DecodeString(c.PublicKey)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		return errors.New("checkpoint public_key is not 32 bytes of hex")
	}
	sig, err := hex.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("checkpoint signature is not 64 bytes of hex")
	}
	head, err := decodeDigest(c.Head)
	if err != nil {
		return fmt.Errorf("checkpoint head: %w", err)
	}
	msg := CheckpointMessage(e.Stream, c.HeadSeq, head, e.Time, c.Final)
	if !ed25519.Verify(ed25519.PublicKey(pk), msg[:], sig) {
		return errors.New("checkpoint signature does not verify")
	}
	return nil
}

func decodeDigest(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return d, errors.New("digest is not 64 lowercase hex digits")
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest is not hex: %w", err)
	}
	return d, nil
}

// digestHasher is the derive-key state for DigestContext, cloned per event.
var digestHasher = blake3.NewDeriveKey(DigestContext)

// hashPreimage returns DK(DigestContext)[preimage].
func hashPreimage(preimage []byte) [32]byte { return sumPreimage(digestHasher.Clone(), preimage) }

// sumPreimage is hashPreimage on h, a derive-key state for DigestContext
// that the caller owns and may reuse (it is reset first), so that the
// emitter does not clone the 8 KiB state per event.
func sumPreimage(h *blake3.Hasher, preimage []byte) (d [32]byte) {
	h.Reset()
	h.Write(preimage)
	h.Sum(d[:0])
	return d
}

// LineDigest recomputes the digest of one NDJSON line (without its newline)
// as docs/audit.md defines it: the line must end with
// `,"digest":"<64 lowercase hex>"}`; the preimage is the line with that
// member removed (everything before it, then "}"). It returns the
// recomputed digest and the digest the line claims.
func LineDigest(line []byte) (computed, claimed [32]byte, err error) {
	if len(line) < digestSuffixLen+2 {
		return computed, claimed, errors.New("line too short to carry a digest")
	}
	cut := len(line) - digestSuffixLen
	suffix := line[cut:]
	if !bytes.HasPrefix(suffix, []byte(`,"digest":"`)) || !bytes.HasSuffix(suffix, []byte(`"}`)) {
		return computed, claimed, errors.New(`line does not end with a "digest" member`)
	}
	claimed, err = decodeDigest(string(suffix[len(`,"digest":"`) : len(suffix)-2]))
	if err != nil {
		return computed, claimed, err
	}
	pre := make([]byte, 0, cut+1)
	pre = append(append(pre, line[:cut]...), '}')
	return hashPreimage(pre), claimed, nil
}

// sanitize bounds and repairs caller-supplied strings so that encoding is
// stable across a decode/encode round trip (valid UTF-8 only).
func sanitize(s string) string { return BoundText(s, MaxFieldBytes) }

// BoundText is s as valid UTF-8 (each invalid byte sequence replaced by
// U+FFFD), cut to at most n bytes at a character boundary: how an event's
// caller-supplied fields are bounded, for other records of the same values
// (log lines, span attributes) to match.
func BoundText(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (e *Event) sanitize() {
	for _, p := range []*string{&e.Kind, &e.Action, &e.Decision, &e.ErrorCode,
		&e.ChainFingerprint, &e.Principal, &e.Executor, &e.Intent, &e.IntentHash,
		&e.Namespace, &e.Tenant, &e.RequestID, &e.ClientIP, &e.GatewayID,
		&e.Actor, &e.Subject} {
		*p = sanitize(*p)
	}
	if e.LatencyUS < 0 {
		e.LatencyUS = 0
	}
	if e.BatchSize < 0 {
		e.BatchSize = 0
	}
}

// preimagePlaceholder ends the JSON encoding of an event whose Seq is 0 and
// Prev is ZeroDigest, before sealing.
var preimagePlaceholder = []byte(`,"seq":0,"prev":"` + ZeroDigest + `"}`)

// encodeUnsealed encodes e (with Seq 0, Prev ZeroDigest, no Digest). The
// result ends with preimagePlaceholder, which appendSealTail replaces.
func encodeUnsealed(e *Event) ([]byte, error) {
	e.Seq, e.Prev, e.Digest = 0, ZeroDigest, ""
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	if !bytes.HasSuffix(b, preimagePlaceholder) {
		return nil, errors.New("audit: encode event: unexpected field order")
	}
	return b, nil
}

// appendSealTail appends the chaining members and closes the object:
// `,"seq":N,"prev":"<prev>"}`. Appended to an event's members up to its
// stream (appendUnsealed, or encodeUnsealed without preimagePlaceholder) it
// makes the digest preimage.
func appendSealTail(dst []byte, seq uint64, prev string) []byte {
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"prev":"`...)
	dst = append(dst, prev...)
	return append(dst, `"}`...)
}

// appendDigest turns a preimage into the NDJSON line (no newline), in
// place: its closing brace becomes `,"digest":"<digestHex>"}`.
func appendDigest(preimage []byte, digestHex string) []byte {
	line := append(preimage[:len(preimage)-1], `,"digest":"`...)
	line = append(line, digestHex...)
	return append(line, `"}`...)
}

// newUUIDv7 returns an RFC 9562 version 7 UUID: 48-bit Unix milliseconds,
// then 74 random bits.
func newUUIDv7(ms int64) string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}
