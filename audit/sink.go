package audit

import (
	"context"
	"errors"
)

// Record is one sealed event as sinks receive it: the event and its exact
// NDJSON line (without the trailing newline). Both are shared between sinks
// and must not be modified.
type Record struct {
	Event *Event
	Line  []byte
}

// Sink receives sealed events.
//
// Submit must not block on I/O: an asynchronous sink queues the record and
// returns; when it cannot accept the record it drops and counts it and
// returns false. Close flushes what is queued within ctx's deadline, then
// releases the sink's resources.
type Sink interface {
	Submit(r Record) bool
	Close(ctx context.Context) error
}

// Multi fans out to several sinks. Submit reports whether every sink
// accepted the record; Close closes them all and joins their errors.
func Multi(sinks ...Sink) Sink { return multi(append([]Sink(nil), sinks...)) }

type multi []Sink

func (m multi) Submit(r Record) bool {
	ok := true
	for _, s := range m {
		if !s.Submit(r) {
			ok = false
		}
	}
	return ok
}

func (m multi) Close(ctx context.Context) error {
	errs := make([]error, len(m))
	done := make(chan struct{}, len(m))
	for i, s := range m {
		go func() {
			errs[i] = s.Close(ctx)
			done <- struct{}{}
		}()
	}
	for range m {
		<-done
	}
	return errors.Join(errs...)
}
