package pgsink

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/a1-go/a1/audit"
)

type teeSink struct{ w io.Writer }

func (t teeSink) Submit(r audit.Record) bool {
	_, _ = t.w.Write(append(append([]byte(nil), r.Line...), '\n'))
	return true
}
func (teeSink) Close(context.Context) error { return nil }

type collectSink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (c *collectSink) Submit(r audit.Record) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
	return true
}
func (*collectSink) Close(context.Context) error { return nil }

func (c *collectSink) entries() []audit.Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]audit.Entry, len(c.recs))
	for i, r := range c.recs {
		out[i] = audit.Entry{Record: r, Data: r.Line}
	}
	return out
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
