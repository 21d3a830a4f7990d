package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds; a condition still false after 30 s
// (far beyond any scheduling delay) fails the test.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// collect is a synchronous in-memory sink for tests.
type collect struct {
	mu    sync.Mutex
	lines [][]byte
	recs  []Record
}

func (c *collect) Submit(r Record) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, r.Line)
	c.recs = append(c.recs, r)
	return true
}

func (c *collect) Close(context.Context) error { return nil }

// checkpoints counts the checkpoint events received so far.
func (c *collect) checkpoints() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recs {
		if r.Event.Kind == KindCheckpoint {
			n++
		}
	}
	return n
}

func (c *collect) ndjson() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, l := range c.lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

func hop(i int) *int { return &i }

// sample returns an authorize event with every optional field set.
func sample(i int) Event {
	return Event{
		Kind: KindAuthorize, Action: "authorize", Decision: DecisionDeny,
		ErrorCode: "SCOPE_VIOLATION", Hop: hop(i % 3),
		ChainFingerprint: "aa11", Principal: "bb22", Executor: "cc33",
		Intent: "trade.equity", IntentHash: "dd44", Namespace: "ns", Tenant: "t1",
		RequestID: "req", ClientIP: "192.0.2.1", LatencyUS: int64(100 + i),
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
