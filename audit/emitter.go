package audit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// Config configures an Emitter.
type Config struct {
	// Sinks receive every sealed event (fanned out in order).
	Sinks []Sink
	// GatewayID fills Event.GatewayID when the caller leaves it empty.
	GatewayID string

	// Signer, when set, signs checkpoint events. Its Public() must be an
	// ed25519.PublicKey; it is called off the hot path.
	Signer crypto.Signer
	// KeyID names the signing key in checkpoints (optional).
	KeyID string
	// CheckpointEvery inserts a checkpoint after this many events (0: never
	// by count). CheckpointInterval inserts one after this much time if
	// events were emitted since the last (0: never by time). With a Signer
	// a final checkpoint is always written by Close.
	CheckpointEvery    int
	CheckpointInterval time.Duration

	// ErrorLog receives internal errors (signing failures). Optional.
	ErrorLog func(error)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Emitter seals events into a hash chain and hands them to its sinks.
// It is safe for concurrent use.
type Emitter struct {
	cfg    Config
	sink   Sink
	stream string
	pub    string // hex public key of cfg.Signer

	mu      sync.Mutex
	seq     uint64
	head    string // hex digest of event seq (ZeroDigest when seq == 0)
	sinceCP int
	closing bool // Close started: only the final checkpoint is sealed
	closed  bool
	hasher  *blake3.Hasher // DK(DigestContext) state, reset per event, guarded by mu

	cpReq chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

// ErrEmitterClosed is returned by Close on the second call.
var ErrEmitterClosed = errors.New("audit: emitter closed")

// errEventAfterClose goes to Config.ErrorLog for each event emitted once
// Close has started (the event is not recorded).
var errEventAfterClose = fmt.Errorf("audit: event emitted during or after Close not recorded: %w", ErrEmitterClosed)

// NewEmitter creates an emitter with a fresh random stream id.
func NewEmitter(cfg Config) (*Emitter, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckpointEvery < 0 || cfg.CheckpointInterval < 0 {
		return nil, errors.New("audit: negative checkpoint setting")
	}
	e := &Emitter{
		cfg:    cfg,
		sink:   Multi(cfg.Sinks...),
		stream: newUUIDv7(cfg.Now().UnixMilli()),
		head:   ZeroDigest,
		hasher: digestHasher.Clone(),
		cpReq:  make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	if cfg.Signer != nil {
		pk, ok := cfg.Signer.Public().(ed25519.PublicKey)
		if !ok || len(pk) != ed25519.PublicKeySize {
			return nil, errors.New("audit: checkpoint signer must hold an Ed25519 key")
		}
		e.pub = hex.EncodeToString(pk)
		e.wg.Add(1)
		go e.checkpointLoop()
	}
	return e, nil
}

// Stream returns this emitter's stream id.
func (e *Emitter) Stream() string { return e.stream }

// Head returns the sequence number and digest of the last sealed event.
func (e *Emitter) Head() (seq uint64, digest string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seq, e.head
}

// Emit seals ev (setting v, id and time when empty, gateway_id from the
// config when empty, and the chaining fields) and submits it to the sinks.
// It never blocks on I/O. It returns the sealed event; after Close the event
// is returned unsealed (Seq 0) and not recorded.
func (e *Emitter) Emit(ev Event) Event {
	ev.Checkpoint = nil
	if ev.Kind == KindCheckpoint {
		ev.Kind = "invalid"
	}
	if ev.GatewayID == "" {
		ev.GatewayID = e.cfg.GatewayID
	}
	return e.emit(ev)
}

func (e *Emitter) emit(ev Event) Event {
	ev.sanitize()
	ev.V = Version
	if ev.Time == "" || ev.ID == "" {
		now := e.cfg.Now()
		if ev.Time == "" {
			ev.Time = now.UTC().Format(time.RFC3339Nano)
		}
		if ev.ID == "" {
			ev.ID = newUUIDv7(now.UnixMilli())
		}
	}
	ev.Stream = e.stream
	// The line is built in one buffer: the members up to the stream now,
	// the chaining members and the digest under the lock.
	ev.Seq, ev.Prev, ev.Digest = 0, ZeroDigest, ""
	line := appendUnsealed(make([]byte, 0, lineCap(&ev)), &ev)
	if line == nil { // checkpoint events: encoding/json
		cp := ev // a copy, so that ev itself does not escape to the heap
		unsealed, err := encodeUnsealed(&cp)
		if err != nil { // unreachable for this struct; never lose the event silently
			e.logErr(err)
			ev.Seq, ev.Prev = 0, ""
			return ev
		}
		line = append(make([]byte, 0, len(unsealed)+sealTailCap), unsealed[:len(unsealed)-len(preimagePlaceholder)]...)
	}

	e.mu.Lock()
	if e.closed || (e.closing && ev.Kind != KindCheckpoint) {
		e.mu.Unlock()
		// Not recorded (it would follow the final checkpoint): never
		// silently.
		e.logErr(errEventAfterClose)
		ev.Seq, ev.Prev = 0, ""
		return ev
	}
	e.seq++
	ev.Seq, ev.Prev = e.seq, e.head
	line = appendSealTail(line, ev.Seq, ev.Prev)
	// line is now the preimage; hash it with the emitter's hasher
	// (guarded by mu).
	d := sumPreimage(e.hasher, line)
	var dh [64]byte
	hex.Encode(dh[:], d[:])
	e.head = string(dh[:])
	ev.Digest = e.head
	line = appendDigest(line, ev.Digest)
	sealed := ev
	// Submit under the lock so every sink queues events in seq order;
	// Submit never blocks.
	e.sink.Submit(Record{Event: &sealed, Line: line})
	wantCP := false
	if ev.Kind != KindCheckpoint {
		e.sinceCP++
		wantCP = e.cfg.CheckpointEvery > 0 && e.sinceCP >= e.cfg.CheckpointEvery
	} else {
		e.sinceCP = 0
	}
	e.mu.Unlock()

	if wantCP {
		select {
		case e.cpReq <- struct{}{}:
		default:
		}
	}
	return ev
}

func (e *Emitter) checkpointLoop() {
	defer e.wg.Done()
	var tick <-chan time.Time
	if e.cfg.CheckpointInterval > 0 {
		t := time.NewTicker(e.cfg.CheckpointInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-e.stop:
			return
		case <-e.cpReq:
		case <-tick:
		}
		if err := e.checkpoint(false); err != nil {
			e.logErr(err)
		}
	}
}

// checkpoint signs the current head and appends a checkpoint event. It does
// nothing when no event was emitted since the last checkpoint (unless final).
func (e *Emitter) checkpoint(final bool) error {
	e.mu.Lock()
	headSeq, headHex, since := e.seq, e.head, e.sinceCP
	e.mu.Unlock()
	if since == 0 && !final {
		return nil
	}
	head, err := decodeDigest(headHex)
	if err != nil {
		return fmt.Errorf("audit: checkpoint: %w", err)
	}
	now := e.cfg.Now()
	ts := now.UTC().Format(time.RFC3339Nano)
	msg := CheckpointMessage(e.stream, headSeq, head, ts, final)
	sig, err := e.cfg.Signer.Sign(rand.Reader, msg[:], crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("audit: checkpoint: sign: %w", err)
	}
	e.emit(Event{
		ID:        newUUIDv7(now.UnixMilli()),
		Time:      ts,
		Kind:      KindCheckpoint,
		Action:    KindCheckpoint,
		GatewayID: e.cfg.GatewayID,
		Checkpoint: &Checkpoint{
			HeadSeq:   headSeq,
			Head:      headHex,
			Final:     final,
			KeyID:     sanitize(e.cfg.KeyID),
			PublicKey: e.pub,
			Signature: hex.EncodeToString(sig),
		},
	})
	return nil
}

// Close writes a final checkpoint (when a Signer is configured), stops
// accepting events and closes the sinks, flushing them within ctx's
// deadline.
func (e *Emitter) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return ErrEmitterClosed
	}
	e.closing = true
	e.mu.Unlock()
	close(e.stop)
	e.wg.Wait()
	var err error
	if e.cfg.Signer != nil {
		err = e.checkpoint(true)
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return errors.Join(err, e.sink.Close(ctx))
}

func (e *Emitter) logErr(err error) {
	if e.cfg.ErrorLog != nil {
		e.cfg.ErrorLog(err)
	}
}

// sealTailCap bounds what sealing appends to the unsealed members:
// `,"seq":` (20 digits) `,"prev":"` (64) `"}`, then `,"digest":"` (64) `"}`.
const sealTailCap = len(`,"seq":`) + 20 + len(`,"prev":"`) + 64 + len(`"}`) + digestSuffixLen

// lineCap is the capacity that holds the whole line of a typical event
// (strings without escapes), so that it is built without re-allocation.
func lineCap(ev *Event) int {
	n := 320 + sealTailCap // member names, numbers, quotes
	for _, s := range [...]string{ev.ID, ev.Time, ev.Kind, ev.Action, ev.Decision, ev.ErrorCode,
		ev.ChainFingerprint, ev.Principal, ev.Executor, ev.Intent, ev.IntentHash, ev.Namespace,
		ev.Tenant, ev.RequestID, ev.ClientIP, ev.GatewayID, ev.Actor, ev.Subject, ev.Stream} {
		n += len(s)
	}
	return n
}

// appendUnsealed appends the JSON encoding of ev up to, not including, its
// `,"seq":` member: byte for byte what encoding/json writes for Event (same
// member order, same omitempty rules, same string escaping; the tests
// compare the two on every field). It returns nil for checkpoint events,
// which take the encoding/json path.
func appendUnsealed(b []byte, ev *Event) []byte {
	if ev.Checkpoint != nil {
		return nil
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(ev.V), 10)
	b = appendMember(b, `,"id":`, ev.ID)
	b = appendMember(b, `,"time":`, ev.Time)
	b = appendMember(b, `,"kind":`, ev.Kind)
	b = appendMember(b, `,"action":`, ev.Action)
	b = appendMember(b, `,"decision":`, ev.Decision)
	b = appendOptional(b, `,"error_code":`, ev.ErrorCode)
	if ev.Hop != nil {
		b = append(b, `,"hop":`...)
		b = strconv.AppendInt(b, int64(*ev.Hop), 10)
	}
	b = appendOptional(b, `,"chain_fingerprint":`, ev.ChainFingerprint)
	b = appendOptional(b, `,"principal":`, ev.Principal)
	b = appendOptional(b, `,"executor":`, ev.Executor)
	b = appendOptional(b, `,"intent":`, ev.Intent)
	b = appendOptional(b, `,"intent_hash":`, ev.IntentHash)
	b = appendOptional(b, `,"namespace":`, ev.Namespace)
	b = appendOptional(b, `,"tenant":`, ev.Tenant)
	b = appendOptional(b, `,"request_id":`, ev.RequestID)
	b = appendOptional(b, `,"client_ip":`, ev.ClientIP)
	b = appendOptional(b, `,"gateway_id":`, ev.GatewayID)
	b = appendOptional(b, `,"actor":`, ev.Actor)
	b = appendOptional(b, `,"subject":`, ev.Subject)
	if ev.BatchSize != 0 {
		b = append(b, `,"batch_size":`...)
		b = strconv.AppendInt(b, int64(ev.BatchSize), 10)
	}
	if ev.LatencyUS != 0 {
		b = append(b, `,"latency_us":`...)
		b = strconv.AppendInt(b, ev.LatencyUS, 10)
	}
	return appendMember(b, `,"stream":`, ev.Stream)
}

func appendOptional(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendMember(b, name, s)
}

// appendMember appends name and s as a JSON string. Printable ASCII other
// than the characters encoding/json escapes is copied as is; any other
// string is encoded by encoding/json itself, so escaping never differs.
func appendMember(b []byte, name, s string) []byte {
	b = append(b, name...)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
