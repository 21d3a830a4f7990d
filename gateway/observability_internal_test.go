package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestObservabilityPanicLogBounded: a handler panic is logged with the
// request path, which is the client's (up to A1_MAX_HEADER_BYTES, 1 MiB at
// most): it is cut to maxLoggedPath, and a decoded newline in it stays
// inside its log line, in both log formats.
func TestObservabilityPanicLogBounded(t *testing.T) {
	path := "/v1/x" + strings.Repeat("%0Aforged=1", 4096)
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		s := &Server{log: newLogger(&Config{LogFormat: format, LogLevel: "info"}, &buf)}
		h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: status %d, want 500", format, rec.Code)
		}
		out := buf.String()
		if n := strings.Count(out, "\n"); n != 1 {
			t.Errorf("%s: the panic took %d log lines, want 1", format, n)
		}
		if !strings.Contains(out, "handler bug") {
			t.Errorf("%s: the panic is not logged: %.300s", format, out)
		}
		if c := strings.Count(out, "forged=1"); c == 0 || c > maxLoggedPath/len("\nforged=1")+1 {
			t.Errorf("%s: the logged path holds %d of the client's 4096 segments (bound %d bytes)", format, c, maxLoggedPath)
		}
		if format == "json" {
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil {
				t.Errorf("json: the panic line does not parse: %v", err)
			} else if p, _ := rec["path"].(string); len(p) > maxLoggedPath {
				t.Errorf("json: logged path is %d bytes", len(p))
			}
		}
	}
}
