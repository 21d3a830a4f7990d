package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits every backend enforces before any I/O, so that no request can make
// a backend build an unbounded script, statement or transaction.
const (
	// MaxTenantLen bounds a tenant id in bytes.
	MaxTenantLen = 128
	// MaxAuthorizeFingerprints bounds AuthorizeRequest.Fingerprints (one
	// per cert of a chain, far above any sane delegation depth).
	MaxAuthorizeFingerprints = 64
	// MaxAuthorizeNonces bounds AuthorizeRequest.Nonces.
	MaxAuthorizeNonces = 128
	// MaxRevokeBatch bounds one Revoke call.
	MaxRevokeBatch = 1000
	// MaxTextLen bounds Revocation.Reason/Actor and Root.Label/AddedBy.
	MaxTextLen = 1024
	// DefaultPageLimit is used when Page.Limit is zero.
	DefaultPageLimit = 100
	// MaxPageLimit bounds Page.Limit.
	MaxPageLimit = 1000
	// MaxRootsPerTenant bounds the trusted roots of one tenant.
	MaxRootsPerTenant = 1024
	// MaxRateKeyLen bounds a rate-limiter key in bytes.
	MaxRateKeyLen = 256
	// MaxRateBurst bounds the burst of a rate limiter.
	MaxRateBurst = 1 << 20
	// MinRatePerSec and MaxRatePerSec bound a limiter's rate, so that
	// burst × interval never overflows int64 nanoseconds.
	MinRatePerSec = 1e-3
	MaxRatePerSec = 1e9
)

// MaxExpiry caps Nonce.ExpiresAt. Backends store expiries as int64
// nanoseconds or milliseconds since 1970 (valid until 2262); a nonce whose
// cert expires later (the verifier saturates to year ~1.5e11) is kept until
// MaxExpiry, that is, for good. Without the cap the conversion would
// overflow and the nonce would look expired: a replay window.
var MaxExpiry = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// ClampExpiry returns t capped at MaxExpiry.
func ClampExpiry(t time.Time) time.Time {
	if t.After(MaxExpiry) {
		return MaxExpiry
	}
	return t
}

// ErrInvalid classifies a request a backend refuses before any I/O because
// it breaks a limit above. It is neither a decision nor an outage: it is a
// caller bug or a hostile input (HTTP 400).
var ErrInvalid = errors.New("store: invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// CheckTenant validates a tenant id: at most MaxTenantLen bytes of valid
// UTF-8 without control characters or braces (Redis Cluster hash tags use
// braces, so a brace could move a tenant's keys across slots).
func CheckTenant(tenant string) error {
	if len(tenant) > MaxTenantLen {
		return invalid("tenant longer than %d bytes", MaxTenantLen)
	}
	if !utf8.ValidString(tenant) {
		return invalid("tenant is not valid UTF-8")
	}
	for _, r := range tenant {
		if r < 0x20 || r == 0x7f || r == '{' || r == '}' {
			return invalid("tenant contains a control character or brace")
		}
	}
	return nil
}

// Check validates the request against the limits above. Duplicate nonces
// are not an error here: a backend reports the second occurrence as a
// replay (after the revocation check, which always wins).
func (r *AuthorizeRequest) Check() error {
	if err := CheckTenant(r.Tenant); err != nil {
		return err
	}
	if len(r.Fingerprints) > MaxAuthorizeFingerprints {
		return invalid("%d fingerprints, limit %d", len(r.Fingerprints), MaxAuthorizeFingerprints)
	}
	if len(r.Nonces) > MaxAuthorizeNonces {
		return invalid("%d nonces, limit %d", len(r.Nonces), MaxAuthorizeNonces)
	}
	for i := range r.Nonces {
		// A zero expiry would make every backend skip the nonce as
		// already expired: a silent replay window.
		if r.Nonces[i].ExpiresAt.IsZero() {
			return invalid("nonce %d has no expiry", i)
		}
	}
	return nil
}

// checkText reports whether s can be stored as text by every backend: at
// most MaxTextLen bytes of valid UTF-8 without NUL (a PostgreSQL text
// column holds nothing else, and the other backends must not accept what
// one refuses with an error that would look like an outage).
func checkText(s string) bool {
	return len(s) <= MaxTextLen && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckRevocations validates a Revoke batch.
func CheckRevocations(tenant string, revs []Revocation) error {
	if err := CheckTenant(tenant); err != nil {
		return err
	}
	if len(revs) > MaxRevokeBatch {
		return invalid("%d revocations, limit %d", len(revs), MaxRevokeBatch)
	}
	for i := range revs {
		if !checkText(revs[i].Reason) || !checkText(revs[i].Actor) {
			return invalid("revocation %d: reason or actor longer than %d bytes, not UTF-8 or with NUL", i, MaxTextLen)
		}
	}
	return nil
}

// CheckRoot validates a root to add.
func CheckRoot(tenant string, r Root) error {
	if err := CheckTenant(tenant); err != nil {
		return err
	}
	if !checkText(r.Label) || !checkText(r.AddedBy) {
		return invalid("root label or added-by longer than %d bytes, not UTF-8 or with NUL", MaxTextLen)
	}
	return nil
}

// ErrTooManyRoots is returned (wrapping ErrInvalid) by AddRoot when the
// tenant already holds MaxRootsPerTenant roots.
var ErrTooManyRoots = fmt.Errorf("%w: more than %d roots", ErrInvalid, MaxRootsPerTenant)

// PageLimit validates a page and returns its effective limit.
func PageLimit(tenant string, p Page) (int, error) {
	if err := CheckTenant(tenant); err != nil {
		return 0, err
	}
	switch {
	case p.Limit < 0 || p.Limit > MaxPageLimit:
		return 0, invalid("page limit %d outside [0, %d]", p.Limit, MaxPageLimit)
	case p.Limit == 0:
		return DefaultPageLimit, nil
	}
	return p.Limit, nil
}

// CheckPage validates a page of a tenant's revocation list: it returns the
// effective limit and, past the first page, the fingerprint the cursor
// names (hasAfter).
func CheckPage(tenant string, p Page) (limit int, after [32]byte, hasAfter bool, err error) {
	if limit, err = PageLimit(tenant, p); err != nil {
		return 0, after, false, err
	}
	if after, hasAfter, err = ParseCursor(p.Cursor); err != nil {
		return 0, after, false, err
	}
	return limit, after, hasAfter, nil
}

// ParseCursor decodes a revocation-list cursor: the hex fingerprint of the
// last item of the previous page, or "" for the first page. Every backend
// lists revocations in ascending fingerprint byte order.
func ParseCursor(c string) (fp [32]byte, ok bool, err error) {
	if c == "" {
		return fp, false, nil
	}
	if len(c) != 64 {
		return fp, false, invalid("malformed cursor")
	}
	for i := 0; i < 32; i++ {
		hi, lo := unhex(c[2*i]), unhex(c[2*i+1])
		if hi < 0 || lo < 0 {
			return fp, false, invalid("malformed cursor")
		}
		fp[i] = byte(hi<<4 | lo)
	}
	return fp, true, nil
}

// Cursor encodes a fingerprint as a revocation-list cursor.
func Cursor(fp [32]byte) string {
	const digits = "0123456789abcdef"
	var b [64]byte
	for i, v := range fp {
		b[2*i], b[2*i+1] = digits[v>>4], digits[v&15]
	}
	return string(b[:])
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// CheckRate validates rate-limiter arguments.
func CheckRate(key string, ratePerSec float64, burst int) error {
	if len(key) > MaxRateKeyLen {
		return invalid("rate key longer than %d bytes", MaxRateKeyLen)
	}
	if !checkText(key) {
		return invalid("rate key is not UTF-8 or holds NUL")
	}
	if !(ratePerSec >= MinRatePerSec && ratePerSec <= MaxRatePerSec) {
		return invalid("rate %v outside [%v, %v]", ratePerSec, MinRatePerSec, MaxRatePerSec)
	}
	if burst < 1 || burst > MaxRateBurst {
		return invalid("burst %d outside [1, %d]", burst, MaxRateBurst)
	}
	return nil
}
