package audit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
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
	buf     []byte // reused preimage buffer, guarded by mu

	cpReq chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

// ErrEmitterClosed is returned by Close on the second call.
var ErrEmitterClosed = errors.New("audit: emitter closed")

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
	unsealed, err := encodeUnsealed(&ev)
	if err != nil { // unreachable for this struct; never lose the event silently
		e.logErr(err)
		ev.Seq, ev.Prev = 0, ""
		return ev
	}

	e.mu.Lock()
	if e.closed || (e.closing && ev.Kind != KindCheckpoint) {
		e.mu.Unlock()
		ev.Seq, ev.Prev = 0, ""
		return ev
	}
	e.seq++
	ev.Seq, ev.Prev = e.seq, e.head
	e.buf = seal(e.buf[:0], unsealed, ev.Seq, ev.Prev)
	d := hashPreimage(e.buf)
	e.head = hex.EncodeToString(d[:])
	ev.Digest = e.head
	line := finish(e.buf, ev.Digest)
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
