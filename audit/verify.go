package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// TrustedKeys, when non-empty, are the only keys whose checkpoints are
	// accepted; a checkpoint signed by any other key is a problem.
	TrustedKeys []ed25519.PublicKey
	// RequireStart makes a stream that does not start at seq 1 a problem
	// (by default a note: older rotated files may have been deleted).
	RequireStart bool
	// RequireFinal makes a stream that does not end with a final checkpoint
	// a problem (a cleanly closed signing emitter always writes one).
	RequireFinal bool
	// Anchors are stream heads known from elsewhere (a SIEM, a previous
	// verification): the input must reach each anchor's seq with its digest.
	Anchors []Anchor
}

// Anchor is an externally known (stream, seq, digest).
type Anchor struct {
	Stream string
	Seq    uint64
	Digest string
}

// Problem is one finding, located by file (empty for a single reader) and
// 1-based line number (0 when it concerns the input as a whole).
type Problem struct {
	File   string
	Line   int
	Stream string
	Seq    uint64
	Reason string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "line %d: %s", p.Line, p.Reason)
	return b.String()
}

// StreamSummary describes one stream found in the input.
type StreamSummary struct {
	ID          string
	First, Last uint64 // first and highest seq seen
	Events      int    // events of this stream (checkpoints included)
	Checkpoints int    // checkpoints whose signature verified
	SignedSeq   uint64 // highest head_seq covered by a verified checkpoint
	Final       bool   // a verified final checkpoint was seen
}

// Report is the result of Verify. OK is true when no problem was found;
// notes are informational.
type Report struct {
	OK        bool
	Lines     int
	Events    int
	Streams   []StreamSummary
	Problems  []Problem
	Notes     []Problem
	Truncated bool // more than maxProblems problems; the list is cut
}

// String lists the problems one per line ("line N: reason"), then the
// notes prefixed "note: ", then a summary line.
func (r *Report) String() string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	if r.Truncated {
		fmt.Fprintf(&b, "(more than %d problems; list truncated)\n", maxProblems)
	}
	for _, p := range r.Notes {
		b.WriteString("note: ")
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	cps := 0
	for _, s := range r.Streams {
		cps += s.Checkpoints
	}
	status := "OK"
	if !r.OK {
		status = fmt.Sprintf("FAILED (%d problems)", len(r.Problems))
	}
	fmt.Fprintf(&b, "%s: %d events in %d streams, %d signed checkpoints verified\n",
		status, r.Events, len(r.Streams), cps)
	return b.String()
}

type loc struct {
	file string
	line int
}

type seen struct {
	digest string
	at     loc
}

type streamState struct {
	sum        StreamSummary
	lastDigest string
	lastAt     loc
	finalAt    loc
	recent     map[uint64]seen
}

type verifier struct {
	opts    VerifyOptions
	rep     Report
	streams map[string]*streamState
	order   []string
}

// Verify checks one NDJSON audit stream end to end. The error is non-nil
// only when reading fails; findings are in the Report.
func Verify(r io.Reader, opts VerifyOptions) (*Report, error) {
	v := newVerifier(opts)
	if err := v.feed("", r); err != nil {
		return nil, err
	}
	return v.finish(), nil
}

// VerifyFiles checks several files as one input, in the order given (for a
// rotated log: oldest first, e.g. audit.ndjson.2 audit.ndjson.1
// audit.ndjson). Streams may continue across files.
func VerifyFiles(paths []string, opts VerifyOptions) (*Report, error) {
	v := newVerifier(opts)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		err = v.feed(p, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return v.finish(), nil
}

func newVerifier(opts VerifyOptions) *verifier {
	return &verifier{opts: opts, streams: map[string]*streamState{}}
}

func (v *verifier) problem(at loc, stream string, seq uint64, format string, args ...any) {
	if len(v.rep.Problems) >= maxProblems {
		v.rep.Truncated = true
		return
	}
	v.rep.Problems = append(v.rep.Problems, Problem{File: at.file, Line: at.line,
		Stream: stream, Seq: seq, Reason: fmt.Sprintf(format, args...)})
}

func (v *verifier) note(at loc, stream string, seq uint64, format string, args ...any) {
	if len(v.rep.Notes) >= maxProblems {
		return
	}
	v.rep.Notes = append(v.rep.Notes, Problem{File: at.file, Line: at.line,
		Stream: stream, Seq: seq, Reason: fmt.Sprintf(format, args...)})
}

func (at loc) String() string {
	if at.file != "" {
		return fmt.Sprintf("%s line %d", at.file, at.line)
	}
	return fmt.Sprintf("line %d", at.line)
}

func (v *verifier) feed(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLineBytes+1)
	at := loc{file: name}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			at.line++
			v.rep.Lines++
			v.problem(at, "", 0, "line longer than %d bytes", MaxLineBytes)
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("audit: verify: read: %w", err)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("audit: verify: read: %w", err)
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		at.line++
		v.rep.Lines++
		complete := bytes.HasSuffix(line, []byte("\n"))
		v.line(at, bytes.TrimSuffix(line, []byte("\n")), complete)
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

func (v *verifier) line(at loc, line []byte, complete bool) {
	if len(line) == 0 {
		v.problem(at, "", 0, "empty line")
		return
	}
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		if !complete {
			v.problem(at, "", 0, "truncated: last line is incomplete (no newline, not valid JSON)")
		} else {
			v.problem(at, "", 0, "malformed event: not a JSON event object")
		}
		return
	}
	// The stream id is kept per stream and printed in reasons: only a
	// well-formed one is (see validStreamID).
	sid := ev.Stream
	if !validStreamID(sid) {
		sid = ""
	}
	if !complete {
		v.problem(at, sid, ev.Seq, "truncated: last line has no terminating newline")
	}
	v.rep.Events++
	if ev.V != Version {
		v.problem(at, sid, ev.Seq, "unsupported schema version %d", ev.V)
		return
	}
	computed, claimed, err := LineDigest(line)
	switch {
	case err != nil:
		v.problem(at, sid, ev.Seq, "no valid digest: %v", err)
		return
	case computed != claimed:
		v.problem(at, sid, ev.Seq, "digest mismatch: event was modified")
	default:
		if canon, err := json.Marshal(&ev); err != nil || !bytes.Equal(canon, line) {
			v.problem(at, sid, ev.Seq, "non-canonical encoding (unknown, duplicated or reordered fields, or whitespace)")
		}
	}
	if ev.Stream == "" || ev.Seq == 0 {
		v.problem(at, sid, ev.Seq, "missing stream or seq")
		return
	}
	if sid == "" {
		v.problem(at, "", ev.Seq, "malformed event: stream id is not 1 to %d printable ASCII characters", maxStreamIDBytes)
		return
	}
	v.sequence(at, &ev)
}

// validStreamID reports whether s can be a stream id: the emitter draws a
// UUID; anything longer than maxStreamIDBytes or holding a space, a control
// or a non-ASCII character was not written by it (and would let the input
// write into the report, e.g. ANSI escapes or fake lines on a terminal).
func validStreamID(s string) bool {
	if len(s) == 0 || len(s) > maxStreamIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (v *verifier) sequence(at loc, ev *Event) {
	st := v.streams[ev.Stream]
	if st == nil {
		if len(v.streams) >= maxStreams {
			v.problem(at, ev.Stream, ev.Seq, "more than %d streams; stream not checked", maxStreams)
			return
		}
		st = &streamState{sum: StreamSummary{ID: ev.Stream, First: ev.Seq}, recent: map[uint64]seen{}}
		v.streams[ev.Stream] = st
		v.order = append(v.order, ev.Stream)
		switch {
		case ev.Seq != 1 && v.opts.RequireStart:
			v.problem(at, ev.Stream, ev.Seq, "stream %s starts at seq %d: seq 1..%d missing", ev.Stream, ev.Seq, ev.Seq-1)
		case ev.Seq != 1:
			v.note(at, ev.Stream, ev.Seq, "stream %s starts at seq %d (earlier events not in the input)", ev.Stream, ev.Seq)
		case ev.Prev != ZeroDigest:
			v.problem(at, ev.Stream, ev.Seq, "broken prev link: seq 1 must have prev = 64 zeros")
		}
		v.advance(st, at, ev)
		return
	}
	st.sum.Events++
	if st.sum.Final {
		v.problem(at, ev.Stream, ev.Seq, "event after the final checkpoint at %s", st.finalAt)
	}
	last := st.sum.Last
	switch {
	case ev.Seq == last+1:
		if ev.Prev != st.lastDigest {
			v.problem(at, ev.Stream, ev.Seq, "broken prev link: prev does not match the digest of seq %d at %s", last, st.lastAt)
		}
		v.advance(st, at, ev)
	case ev.Seq > last+1:
		if ev.Seq == last+2 {
			v.problem(at, ev.Stream, ev.Seq, "gap: seq %d missing (seq %d follows seq %d at %s)", last+1, ev.Seq, last, st.lastAt)
		} else {
			v.problem(at, ev.Stream, ev.Seq, "gap: seq %d..%d missing (seq %d follows seq %d at %s)", last+1, ev.Seq-1, ev.Seq, last, st.lastAt)
		}
		v.advance(st, at, ev)
	default:
		prior, ok := st.recent[ev.Seq]
		switch {
		case ok && prior.digest == ev.Digest:
			v.problem(at, ev.Stream, ev.Seq, "duplicate: seq %d already at %s", ev.Seq, prior.at)
		case ok:
			v.problem(at, ev.Stream, ev.Seq, "conflicting duplicate: seq %d already at %s with another digest", ev.Seq, prior.at)
		default:
			v.problem(at, ev.Stream, ev.Seq, "out of order: seq %d after seq %d at %s", ev.Seq, last, st.lastAt)
			st.recent[ev.Seq] = seen{ev.Digest, at}
			v.checkpoint(st, at, ev)
		}
	}
}

func (v *verifier) advance(st *streamState, at loc, ev *Event) {
	if st.sum.Events == 0 {
		st.sum.Events = 1
	}
	st.sum.Last, st.lastDigest, st.lastAt = ev.Seq, ev.Digest, at
	st.recent[ev.Seq] = seen{ev.Digest, at}
	if ev.Seq > verifyWindow {
		delete(st.recent, ev.Seq-verifyWindow)
	}
	v.checkpoint(st, at, ev)
}

func (v *verifier) checkpoint(st *streamState, at loc, ev *Event) {
	if ev.Kind != KindCheckpoint {
		return
	}
	c := ev.Checkpoint
	if c == nil {
		v.problem(at, ev.Stream, ev.Seq, "checkpoint event without a checkpoint body")
		return
	}
	if err := verifyCheckpoint(ev); err != nil {
		v.problem(at, ev.Stream, ev.Seq, "%v", err)
		return
	}
	if len(v.opts.TrustedKeys) > 0 {
		pk, _ := hex.DecodeString(c.PublicKey)
		trusted := false
		for _, k := range v.opts.TrustedKeys {
			if bytes.Equal(k, pk) {
				trusted = true
			}
		}
		if !trusted {
			v.problem(at, ev.Stream, ev.Seq, "checkpoint signed by an untrusted key %s", c.PublicKey)
			return
		}
	}
	switch prior, ok := st.recent[c.HeadSeq]; {
	case c.HeadSeq >= ev.Seq:
		v.problem(at, ev.Stream, ev.Seq, "checkpoint head_seq %d is not before the checkpoint", c.HeadSeq)
		return
	case c.Final && c.HeadSeq != ev.Seq-1:
		// The signature does not cover the checkpoint's own seq and prev;
		// Close seals the final checkpoint right after its head, so
		// anything in between was not signed (and was inserted).
		v.problem(at, ev.Stream, ev.Seq, "final checkpoint covers seq %d only: seq %d..%d not signed (inserted before the final checkpoint)",
			c.HeadSeq, c.HeadSeq+1, ev.Seq-1)
		return
	case c.HeadSeq == 0 && c.Head != ZeroDigest:
		v.problem(at, ev.Stream, ev.Seq, "checkpoint head for seq 0 must be 64 zeros")
		return
	case c.HeadSeq == 0:
	case !ok:
		v.note(at, ev.Stream, ev.Seq, "checkpoint head seq %d is not in the input; head not compared", c.HeadSeq)
	case prior.digest != c.Head:
		v.problem(at, ev.Stream, ev.Seq, "checkpoint head does not match the digest of seq %d at %s", c.HeadSeq, prior.at)
		return
	}
	st.sum.Checkpoints++
	st.sum.SignedSeq = max(st.sum.SignedSeq, c.HeadSeq)
	if c.Final {
		st.sum.Final, st.finalAt = true, at
	}
}

func (v *verifier) finish() *Report {
	for _, id := range v.order {
		st := v.streams[id]
		if v.opts.RequireFinal && !st.sum.Final {
			v.problem(st.lastAt, id, st.sum.Last, "truncated: stream %s ends at seq %d without a final checkpoint", id, st.sum.Last)
		}
		v.rep.Streams = append(v.rep.Streams, st.sum)
	}
	for _, a := range v.opts.Anchors {
		st := v.streams[a.Stream]
		switch {
		case st == nil:
			v.problem(loc{}, a.Stream, a.Seq, "truncated: anchored stream %s (seq %d) not in the input", a.Stream, a.Seq)
		case st.sum.Last < a.Seq:
			v.problem(st.lastAt, a.Stream, a.Seq, "truncated: anchor says seq %d but stream %s ends at seq %d", a.Seq, a.Stream, st.sum.Last)
		default:
			if s, ok := st.recent[a.Seq]; !ok {
				v.note(st.lastAt, a.Stream, a.Seq, "anchor seq %d is outside the verification window; not compared", a.Seq)
			} else if s.digest != a.Digest {
				v.problem(s.at, a.Stream, a.Seq, "anchor digest mismatch at seq %d", a.Seq)
			}
		}
	}
	v.rep.OK = len(v.rep.Problems) == 0 && !v.rep.Truncated
	return &v.rep
}
