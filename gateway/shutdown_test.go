package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1/audit"
)

// TestGracefulShutdown sends SIGTERM while a request is in flight (its
// body half sent): the gateway stops accepting connections, still answers
// the in-flight authorization, flushes its audit stream (the decision,
// then a signed final checkpoint) and exits 0.
func TestGracefulShutdown(t *testing.T) {
	g := startGateway(t, baseEnv(t))
	sc := newScenario(t)
	if r := g.admin("POST", "/v1/roots", map[string]any{"public_key_hex": sc.human.pk.Hex()}); r.status != 201 {
		t.Fatalf("add root: %d %s", r.status, r.raw)
	}
	req := sc.authReq(sc.chain(t, 0), 0)
	req["request_id"] = "in-flight-" + randHex(4)
	body, _ := json.Marshal(req)

	conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /v1/authorize HTTP/1.1\r\nHost: a1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(append([]byte(head), body[:len(body)/2]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server has read the headers: the connection is active

	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the listener is closed.
	waitFor(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.url, "http://"), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case <-g.done:
		t.Fatal("the gateway exited with a request in flight")
	default:
	}

	// The in-flight request completes.
	if _, err := conn.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out["authorized"] != true {
		t.Fatalf("in-flight request during shutdown: %d %v", resp.StatusCode, out)
	}

	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not exit after draining")
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after a graceful shutdown; log: %s", code, g.stderr.String())
	}

	// The audit stream holds the in-flight decision and ends with a signed
	// final checkpoint.
	lines := strings.Split(strings.TrimSpace(g.audit.String()), "\n")
	var last audit.Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Checkpoint == nil || !last.Checkpoint.Final {
		t.Fatalf("the audit stream does not end with a final checkpoint: %s", lines[len(lines)-1])
	}
	if !strings.Contains(g.audit.String(), `"request_id":"`+req["request_id"].(string)+`"`) {
		t.Fatal("the in-flight decision is missing from the audit stream")
	}
	rep, err := audit.Verify(strings.NewReader(g.audit.String()), audit.VerifyOptions{RequireStart: true, RequireFinal: true})
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %v %s", err, rep)
	}
}
