package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

// ProtocolHeader and ProtocolVersion are sent on every response.
const (
	ProtocolHeader  = "X-A1-Protocol"
	ProtocolVersion = "dyolo_v2.8.0"
	// A1Version is the reference version this gateway is compatible with.
	A1Version = "2.8.0"
)

// Gateway error codes beside the protocol's (a1.ErrorCode).
const (
	CodeMalformed          = "MALFORMED_REQUEST"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeTooLarge           = "PAYLOAD_TOO_LARGE"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeAdminDisabled      = "ADMIN_DISABLED"
	CodeRateLimited        = "RATE_LIMITED"
	CodeStorage            = "STORAGE_UNAVAILABLE"
	CodeInternal           = "INTERNAL"
	CodeParamCollision     = "PARAM_COLLISION"
	CodeBatchEmpty         = "BATCH_EMPTY"
	CodeBatchTooLarge      = "BATCH_TOO_LARGE"
	CodeMACVerification    = "MAC_VERIFICATION_FAILED"
	CodeReservedExtension  = "RESERVED_EXTENSION"
	CodeNotPassportHolder  = "NOT_PASSPORT_HOLDER"
	CodeInvalidFingerprint = "INVALID_FINGERPRINT"
)

// apiError is an error with its HTTP status and wire code.
type apiError struct {
	Status int
	Code   string
	Msg    string
	Hint   string
	Hop    *int
	Err    error
}

func (e *apiError) Error() string { return e.Msg }
func (e *apiError) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeMalformed, Msg: fmt.Sprintf(format, args...),
		Hint: "check the request against /openapi.json"}
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error     string `json:"error"`
	ErrorCode string `json:"error_code"`
	Hop       *int   `json:"hop,omitempty"`
	Hint      string `json:"hint,omitempty"`
}

// toAPIError classifies any error: protocol errors keep their code,
// status and hop; store errors are 503 (never a decision); everything else
// is a 500 (a bug).
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if code := a1.ErrorCode(err); code != "INTERNAL" && code != "" {
		e := &apiError{Status: a1.HTTPStatus(err), Code: code, Msg: err.Error(), Hint: a1.Hint(err), Err: err}
		if hop, ok := a1.HopOf(err); ok {
			e.Hop = &hop
		}
		return e
	}
	if errors.Is(err, store.ErrInvalid) {
		return &apiError{Status: http.StatusBadRequest, Code: CodeMalformed, Msg: err.Error(), Err: err}
	}
	if errors.Is(err, store.ErrUnavailable) {
		return storageError(err)
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error", Err: err}
}

func storageError(err error) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: CodeStorage,
		Msg: "storage unavailable: nothing was authorized", Hint: "retry later", Err: err}
}

// respBufs recycles response buffers; buffers that grew beyond
// maxPooledResp are dropped rather than kept.
var respBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledResp bounds the capacity of a pooled response buffer.
const maxPooledResp = 64 << 10

// writeJSON encodes v once, into a pooled buffer, with a trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := respBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledResp {
			respBufs.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error","error_code":"INTERNAL"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, errorBody{Error: e.Msg, ErrorCode: e.Code, Hop: e.Hop, Hint: e.Hint})
}

// decodeJSON reads a bounded JSON body into v: the content type must be
// application/json (415), the body at most limit bytes (413), the JSON well
// formed, without duplicate keys at any level and without trailing data.
// Unknown fields are ignored, as the reference does.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) *apiError {
	var buf bytes.Buffer
	if e := readBody(w, r, limit, &buf); e != nil {
		return e
	}
	return unmarshalStrict(buf.Bytes(), v)
}

// bodyBufs recycles the request body buffers of the authorize routes.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the capacity of a pooled body buffer.
const maxPooledBody = 64 << 10

// decodePooled is decodeJSON reading into a pooled buffer, for the hot
// authorize routes. The caller must pass the returned buffer to putBody
// once nothing refers to the body any more: v's strings and RawMessages
// are copies, but a chainHolder's chain bytes point into the buffer.
func decodePooled(w http.ResponseWriter, r *http.Request, limit int64, v any) (*bytes.Buffer, *apiError) {
	buf := bodyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if e := readBody(w, r, limit, buf); e != nil {
		return buf, e
	}
	return buf, unmarshalStrict(buf.Bytes(), v)
}

// putBody returns a buffer of decodePooled to the pool.
func putBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyBufs.Put(buf)
	}
}

// readBody checks the content type and reads at most limit bytes of body
// into buf.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, buf *bytes.Buffer) *apiError {
	if ct := r.Header.Get("Content-Type"); ct == "" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
			Msg: "missing Content-Type", Hint: "send Content-Type: application/json"}
	} else if ct != "application/json" { // the common case needs no parsing
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Msg: "Content-Type must be application/json", Hint: "send Content-Type: application/json"}
		}
		// The body is read as UTF-8 (RFC 8259): a body declared in another
		// charset would mean something else to a reader that honours it.
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Msg: "Content-Type charset must be utf-8", Hint: "send UTF-8 JSON as Content-Type: application/json"}
		}
	}
	// The body is never decompressed: a compressed body would be read as
	// its compressed bytes, so any content coding is refused (RFC 9110
	// §15.5.16).
	for _, ce := range r.Header.Values("Content-Encoding") {
		if ce = strings.TrimSpace(ce); ce != "" && !strings.EqualFold(ce, "identity") {
			return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Msg: "Content-Encoding is not supported", Hint: "send the body uncompressed, without Content-Encoding"}
		}
	}
	// Size the buffer from Content-Length (bounded by limit), so that a
	// typical body is read without re-allocation.
	if cl := r.ContentLength; cl > 0 && cl <= limit {
		buf.Grow(int(cl) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Msg: fmt.Sprintf("request body exceeds %d bytes", limit), Hint: "split the request or raise A1_MAX_BODY_BYTES"}
		}
		return badRequest("reading body: %v", err)
	}
	return nil
}

func unmarshalStrict(body []byte, v any) *apiError { return unmarshalStrictFast(body, v, true) }

// unmarshalStrictFast is unmarshalStrict; fast=false never takes
// fastAuthorize (the tests compare the two).
func unmarshalStrictFast(body []byte, v any, fast bool) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("empty body")
	}
	if !utf8.Valid(body) {
		return badRequest("body is not valid UTF-8")
	}
	sp, err := scanJSON(body)
	if err != nil {
		return badRequest("%v", err)
	}
	// The first top-level value is decoded; anything after it but
	// whitespace is trailing data.
	end := len(body)
	if sp.topEnd > 0 {
		end = sp.topEnd
	}
	rest := body[end:]
	body = body[:end]
	trailing := len(bytes.TrimLeft(rest, " \t\r\n")) > 0
	if req, ok := v.(*authorizeRequest); ok && fast && sp.topEnd > 0 {
		// The common shape without reflection; anything else below.
		if fastAuthorize(body, sp.chainStart, sp.chainEnd, req) {
			if trailing {
				return badRequest("malformed JSON: trailing data after the object")
			}
			return nil
		}
		*req = authorizeRequest{}
	}
	var chain []byte
	if ch, ok := v.(chainHolder); ok && sp.chainEnd > sp.chainStart && sp.chainStart > 0 {
		// Decode the envelope with the chain replaced by null; the strict
		// chain decoder parses the chain bytes (and checks their syntax).
		cs, ce := sp.chainStart, sp.chainEnd
		chain = body[cs:ce]
		nb := make([]byte, 0, len(body)-len(chain)+4)
		nb = append(append(append(nb, body[:cs]...), "null"...), body[ce:]...)
		body = nb
		defer func() { ch.setChain(chain) }()
	}
	if err := json.Unmarshal(body, v); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		if code := a1.ErrorCode(err); code != "INTERNAL" {
			return toAPIError(err)
		}
		return badRequest("malformed JSON: %v", jsonErrText(err))
	}
	if e := checkFieldCase(body, reflect.TypeOf(v)); e != nil {
		return e
	}
	if trailing {
		return badRequest("malformed JSON: trailing data after the object")
	}
	return nil
}

// checkFieldCase rejects a member name that encoding/json would match to a
// field of the target only case-insensitively ("INTENT_NAME", or
// "return_to\u212aen" with a Kelvin sign, for intent_name and
// return_token). Field names are case-sensitive on the wire, as in the
// reference and the chain decoder: a body with both "intent_name" and
// "INTENT_NAME" passes the duplicate-key check, and a case-sensitive reader
// (a policy engine, the tool that executes the action) would see a
// different intent from the one the gateway authorized. Called after
// json.Unmarshal succeeded (raw is valid JSON without duplicate keys), on
// bodies the fast decoder (exact names only) did not take.
//
// It walks raw in place: no map, no sort, no copy of the values, so a body
// of many members costs one pass per level of the target type. When several
// members are wrong, the error is the one of the smallest member name (one
// error for one body, whatever the member order).
func checkFieldCase(raw []byte, t reflect.Type) *apiError {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessageType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // decoded by its own (case-sensitive) decoder
	}
	var first *apiError
	var firstKey string
	keep := func(k string, e *apiError) {
		if e != nil && (first == nil || k < firstKey) {
			first, firstKey = e, k
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := jsonFieldsOf(t)
		folds := foldIndexOf(t, fields)
		eachMember(raw, func(k string, v []byte) {
			if ft, ok := fields[k]; ok {
				keep(k, checkFieldCase(v, ft))
				return
			}
			if first != nil && k >= firstKey {
				return // cannot win
			}
			if name, ok := folds.match(k); ok {
				keep(k, badRequest("unknown field %s: field names are case-sensitive (did you mean %q?)", quoteShort(k), name))
			}
		})
	case reflect.Slice, reflect.Array:
		if !hasFields(t.Elem()) {
			return nil
		}
		eachItem(raw, func(v []byte) bool {
			first = checkFieldCase(v, t.Elem())
			return first == nil
		})
	case reflect.Map:
		if !hasFields(t.Elem()) {
			return nil
		}
		eachMember(raw, func(k string, v []byte) {
			if first == nil || k < firstKey {
				keep(k, checkFieldCase(v, t.Elem()))
			}
		})
	}
	return first
}

// foldIndex finds the field name a member name equals case-insensitively
// (strings.EqualFold), looking only at the names that can: those whose
// first letter folds to the member's first byte when that byte is ASCII
// (a non-ASCII first rune, such as the Kelvin sign for 'k', is compared
// with every name).
type foldIndex struct {
	names   []string      // sorted
	byFirst [128][]string // names by the lower case of their first byte
}

var foldIndexes sync.Map // reflect.Type → *foldIndex

func foldIndexOf(t reflect.Type, fields map[string]reflect.Type) *foldIndex {
	if x, ok := foldIndexes.Load(t); ok {
		return x.(*foldIndex)
	}
	x := &foldIndex{names: slices.Sorted(maps.Keys(fields))}
	for _, n := range x.names {
		if n != "" && n[0] < utf8.RuneSelf {
			c := lowerASCII(n[0])
			x.byFirst[c] = append(x.byFirst[c], n)
		} else {
			// Cannot happen with this package's types; stay correct.
			for c := range x.byFirst {
				x.byFirst[c] = append(x.byFirst[c], n)
			}
		}
	}
	foldIndexes.Store(t, x)
	return x
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (x *foldIndex) match(k string) (string, bool) {
	cands := x.names
	if k != "" && k[0] < utf8.RuneSelf {
		cands = x.byFirst[lowerASCII(k[0])]
	}
	for _, n := range cands {
		if strings.EqualFold(k, n) {
			return n, true
		}
	}
	return "", false
}

// eachMember calls f with each member of the object raw, valid JSON (when
// raw is not an object, null for instance, it calls nothing). The key is
// unescaped; it aliases raw when it has no escape.
func eachMember(raw []byte, f func(key string, val []byte)) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	for i++; ; {
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return // '}' (or invalid JSON, which json.Unmarshal refused)
		}
		end := skipValue(raw, i)
		key, ok := unquoteJSON(raw[i+1 : end-1])
		if !ok {
			return
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return
		}
		i = skipWS(raw, i+1)
		end = skipValue(raw, i)
		f(key, raw[i:end])
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i++
	}
}

// eachItem calls f with each item of the array raw, valid JSON, while f
// returns true (when raw is not an array it calls nothing).
func eachItem(raw []byte, f func(val []byte) bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return
	}
	for i < len(raw) {
		end := skipValue(raw, i)
		if !f(raw[i:end]) {
			return
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i = skipWS(raw, i+1)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i] (valid
// JSON): a string, an object or array (brackets counted outside strings),
// or a literal or number (up to the next delimiter).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValue(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// unquoteJSON decodes the contents of a JSON string (between the quotes)
// to what encoding/json decodes it to: the escapes of RFC 8259, a \u
// surrogate pair to its rune and a lone surrogate to U+FFFD. s must be
// valid UTF-8. Without a backslash it returns s itself, without copying
// (the result must not outlive s). It reports false for a control
// character or an invalid escape (encoding/json refuses them).
func unquoteJSON(s []byte) (string, bool) {
	bs := bytes.IndexByte(s, '\\')
	if bs < 0 {
		for _, c := range s {
			if c < 0x20 {
				return "", false
			}
		}
		return unsafeString(s), true
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i+2:])
			if r < 0 {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := hex4(s[i+2:]); r2 >= 0 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							out = utf8.AppendRune(out, d)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

// hex4 decodes 4 hex digits at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// hasFields reports whether values of t can hold JSON objects decoded into
// struct fields (so checkFieldCase must look inside them).
func hasFields(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface:
		return t != rawMessageType
	}
	return false
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	jsonFields      sync.Map // reflect.Type → map[string]reflect.Type
)

// jsonFieldsOf maps the JSON member names of struct type t (its exported
// fields, by their json tags) to the fields' types.
func jsonFieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := jsonFields.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if ft := f.Type; f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			maps.Copy(m, jsonFieldsOf(ft)) // promoted fields
			continue
		}
		if !f.IsExported() {
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = f.Type
	}
	jsonFields.Store(t, m)
	return m
}

// jsonErrText describes a decoding error without echoing input bytes.
func jsonErrText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q: wrong type (want %s)", te.Field, te.Type)
		}
		return fmt.Sprintf("wrong type (want %s)", te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// jsonSpans are the offsets scanJSON reports; zero when not found.
type jsonSpans struct {
	chainStart, chainEnd int // the top-level "chain" object
	topEnd               int // just after the first top-level object or array
}

// chainHolder is a request body with a top-level "chain" field.
type chainHolder interface{ setChain(raw []byte) }

// maxScanDepth bounds JSON nesting in request bodies.
const maxScanDepth = a1.MaxJSONDepth

// linearKeyLimit is the object size up to which duplicate keys are found
// by a linear scan (no allocation); larger objects switch to a map, so a
// hostile object with many keys costs O(n), not O(n²).
const linearKeyLimit = 32

// scanJSON scans JSON for objects with a repeated key (after
// unescaping) and for nesting beyond maxScanDepth. Syntax is checked later
// by encoding/json; this scanner only needs to find strings and brackets.
// Keys are compared as spans of b, without allocating, on the hot path.
//
// It also returns the span [start, end) of
// the top-level "chain" object, when there is one, so that the chain is
// parsed once, by the strict chain decoder, instead of twice, and the end
// of the first top-level object or array.
func scanJSON(b []byte) (sp jsonSpans, err error) {
	pendingChain := false
	type frame struct {
		obj     bool
		wantKey bool
		first   int // index of this object's first key in spans
		big     map[string]struct{}
	}
	var stackBuf [maxScanDepth]frame
	stack := stackBuf[:0]
	var spanBuf [64]string
	spans := spanBuf[:0]
	stop := &scanStopObject // the bytes that matter in the current frame
	for i := 0; i < len(b); i++ {
		// Skip what cannot change the state (numbers, literals, white
		// space, and commas inside arrays) in a tight loop.
		for i < len(b) && !stop[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= maxScanDepth {
				return jsonSpans{}, fmt.Errorf("JSON nested deeper than %d", maxScanDepth)
			}
			if pendingChain && len(stack) == 1 && c == '{' {
				sp.chainStart = i
			}
			pendingChain = false
			stack = append(stack, frame{obj: c == '{', wantKey: c == '{', first: len(spans)})
			if stop = &scanStopObject; c == '[' {
				stop = &scanStopArray
			}
		case '}', ']':
			if n := len(stack); n > 0 {
				spans = spans[:stack[n-1].first]
				stack = stack[:n-1]
				if stop = &scanStopObject; n > 1 && !stack[n-2].obj {
					stop = &scanStopArray
				}
				if n == 2 && sp.chainStart > 0 && sp.chainEnd == 0 {
					sp.chainEnd = i + 1
				}
				if n == 1 && sp.topEnd == 0 {
					sp.topEnd = i + 1
				}
			}
		case ',':
			pendingChain = false
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		case '"':
			j := i + 1
			esc := false
			// The closing quote is the first one when the string has no
			// backslash (the common case, found with IndexByte).
			q := bytes.IndexByte(b[j:], '"')
			if q < 0 {
				return jsonSpans{}, nil // unterminated: encoding/json reports it
			}
			if bytes.IndexByte(b[j:j+q], '\\') < 0 {
				j += q
			} else {
				for ; j < len(b); j++ {
					if b[j] == '\\' {
						esc = true
						j++
						continue
					}
					if b[j] == '"' {
						break
					}
				}
			}
			if j >= len(b) {
				return jsonSpans{}, nil // unterminated: encoding/json reports it
			}
			pendingChain = false
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				f := &stack[n-1]
				f.wantKey = false
				raw := b[i+1 : j]
				var key string
				if esc {
					s, ok := unquoteJSON(raw)
					if !ok {
						return jsonSpans{}, nil // encoding/json reports it
					}
					key = s
				} else {
					key = unsafeString(raw)
				}
				dup := false
				// The map is scanJSON's own: its keys may alias b.
				if f.big != nil {
					_, dup = f.big[key]
					f.big[key] = struct{}{}
				} else {
					for _, k := range spans[f.first:] {
						if k == key {
							dup = true
							break
						}
					}
					spans = append(spans, key)
					if len(spans)-f.first > linearKeyLimit {
						f.big = make(map[string]struct{}, 2*linearKeyLimit)
						for _, k := range spans[f.first:] {
							f.big[k] = struct{}{}
						}
						spans = spans[:f.first]
					}
				}
				if dup {
					if len(key) > 64 {
						key = key[:64] + "…"
					}
					return jsonSpans{}, fmt.Errorf("duplicate key %q", key)
				}
				pendingChain = n == 1 && key == "chain"
			}
			i = j
		}
	}
	return sp, nil
}

// scanStopObject and scanStopArray are the bytes scanJSON must look at
// inside an object (or at the top level) and inside an array, where commas
// do not matter.
var scanStopObject, scanStopArray = func() (o, a [256]bool) {
	for _, c := range []byte(`{}[]"`) {
		o[c], a[c] = true, true
	}
	o[','] = true
	return o, a
}()

// parseHex32 decodes exactly 64 hex characters.
func parseHex32(field, s string) ([32]byte, *apiError) {
	pk, err := a1.ParsePublicKeyHex(s)
	if err != nil {
		return [32]byte{}, badRequest("%s must be 64 hex characters (32 bytes)", field)
	}
	return pk, nil
}

// unsafeString views b as a string without copying; the result must not
// outlive b (scanJSON only compares it while b is alive).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
