package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

// panickingBackend is a backend whose Authorize panics (a bug in a storage
// driver): nothing about it may read as an authorization.
type panickingBackend struct{ Backend }

func (panickingBackend) Authorize(context.Context, store.AuthorizeRequest) error {
	panic("storage driver bug")
}

// TestPanicDuringAuthorizeAuditedAsError: a panic inside an authorization is
// answered 500 by the recoverer, and its audit event and decision metric say
// error INTERNAL. It used to be recorded by a deferred call that saw no
// error while the panic unwound, so the event said "allow".
func TestPanicDuringAuthorizeAuditedAsError(t *testing.T) {
	_, human, _ := ed25519.GenerateKey(rand.Reader)
	_, tool, _ := ed25519.GenerateKey(rand.Reader)
	humanPK := a1.PublicKey(human.Public().(ed25519.PublicKey))
	toolPK := a1.PublicKey(tool.Public().(ed25519.PublicKey))
	intent, err := a1.HashIntent("trade.equity", nil)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := a1.NewCert(toolPK, []a1.IntentHash{intent}, uint64(time.Now().Unix())-5, 600)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Sign(human); err != nil {
		t.Fatal(err)
	}
	chain := a1.NewChain(humanPK, c1.ScopeRoot, c1)

	env := map[string]string{"A1_STORE": "memory", "A1_GATEWAY_ID": "panic-test", "A1_RATE_LIMIT_RPS": "0",
		"A1_TRUSTED_ROOTS": humanPK.Hex()}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var auditOut lockedBuffer
	testOnlyWrapBackend = func(b Backend) Backend { return panickingBackend{b} }
	s, err := NewServer(context.Background(), cfg, Deps{Stdout: &auditOut})
	testOnlyWrapBackend = nil
	if err != nil {
		t.Fatal(err)
	}

	single, _ := json.Marshal(map[string]any{"chain": chain, "intent_name": "trade.equity", "executor_pk_hex": toolPK.Hex()})
	batch, _ := json.Marshal(map[string]any{"chain": chain, "executor_pk_hex": toolPK.Hex(),
		"intents": []map[string]any{{"name": "trade.equity"}}})
	for _, c := range []struct{ path, body string }{{"/v1/authorize", string(single)}, {"/v1/authorize/batch", string(batch)}} {
		r := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusInternalServerError {
			t.Fatalf("%s: status %d, want 500: %s", c.path, w.Code, w.Body)
		}
	}
	if err := s.Close(); err != nil { // flushes the audit stream
		t.Fatal(err)
	}
	var decisions []string
	sc := bufio.NewScanner(bytes.NewReader(auditOut.Bytes()))
	for sc.Scan() {
		var ev struct{ Kind, Decision, ErrorCode string }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		ev.Kind, _ = raw["kind"].(string)
		ev.Decision, _ = raw["decision"].(string)
		ev.ErrorCode, _ = raw["error_code"].(string)
		if ev.Kind == "authorize" || ev.Kind == "authorize_batch" {
			decisions = append(decisions, ev.Decision+" "+ev.ErrorCode)
		}
	}
	if len(decisions) != 2 || decisions[0] != "error INTERNAL" || decisions[1] != "error INTERNAL" {
		t.Fatalf("audited decisions %q, want two \"error INTERNAL\"\n%s", decisions, auditOut.Bytes())
	}
	w := httptest.NewRecorder()
	s.handleMetrics(w, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(w.Body.String(), `error_code="INTERNAL"`) {
		t.Errorf("no INTERNAL decision counted:\n%s", w.Body)
	}
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "a1_authorizations_total{") && strings.Contains(line, `result="allow"`) && !strings.HasSuffix(line, " 0") {
			t.Errorf("an allow was counted: %s", line)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the audit writer's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
