package audit

import (
	"errors"
	"fmt"
	"time"
)

// ErrPermanent marks a delivery failure that retrying cannot fix (a 4xx
// answer, an invalid payload). Senders wrap it; the batch is dropped and
// counted under reason "permanent".
var ErrPermanent = errors.New("audit: permanent delivery failure")

// ErrClosed is returned by Close when called twice.
var ErrClosed = errors.New("audit: sink closed")

// RetryAfterError is a retryable failure for which the server named the
// earliest time to try again (HTTP 429 or 503 with Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap returns the cause.
func (e *RetryAfterError) Unwrap() error { return e.Err }
