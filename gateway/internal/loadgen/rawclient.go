package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// poster sends one authorization request and reports whether it was
// answered 200. Each worker goroutine owns one.
type poster interface {
	post(pop []byte) bool
}

// netHTTPPoster is the standard client: one http.Client shared by all
// workers (-client nethttp).
type netHTTPPoster struct {
	c   *http.Client
	url string
}

func (p netHTTPPoster) post(pop []byte) bool { return send(p.c, p.url, pop) }

// rawPoster is a minimal HTTP/1.1 keep-alive client on one connection
// (-client raw, the default): it writes each request with one writev (no
// body copy) and reads the status line, the headers and a Content-Length
// body, which it discards. Anything else (a chunked body, a closed or
// broken connection) fails the request and the connection is dialed again
// for the next one. It does what net/http's client does for this workload
// with a fraction of its CPU (no per-request goroutine hand-offs, header
// maps or readers), so that the generator takes less of the cores it
// shares with the gateway.
type rawPoster struct {
	addr, path string
	conn       net.Conn
	br         *bufio.Reader
	head       []byte
}

// rawTimeout bounds one request on a raw connection.
const rawTimeout = 10 * time.Second

func newRawPoster(addr, path string) *rawPoster {
	return &rawPoster{addr: addr, path: path}
}

// dial opens the connection ahead of use (so the measured phases do not
// pay for it).
func (p *rawPoster) dial() error {
	c, err := net.DialTimeout("tcp", p.addr, rawTimeout)
	if err != nil {
		return err
	}
	p.conn = c
	if p.br == nil {
		p.br = bufio.NewReaderSize(c, 4096)
	} else {
		p.br.Reset(c)
	}
	return nil
}

func (p *rawPoster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

func (p *rawPoster) post(pop []byte) bool {
	if p.conn == nil {
		if p.dial() != nil {
			return false
		}
	}
	n := len(prefix) + len(pop) + len(closeBrace)
	h := append(p.head[:0], "POST "...)
	h = append(h, p.path...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, p.addr...)
	h = append(h, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(n), 10)
	h = append(h, "\r\n\r\n"...)
	p.head = h
	p.conn.SetDeadline(time.Now().Add(rawTimeout))
	bufs := net.Buffers{h, prefix, pop, closeBrace}
	if _, err := bufs.WriteTo(p.conn); err != nil {
		p.close()
		return false
	}
	status, keep, err := p.readResponse()
	if err != nil || !keep {
		p.close()
	}
	return err == nil && status == 200
}

var errResponse = errors.New("loadgen: unsupported or malformed response")

// readResponse reads one response: its status, and whether the connection
// may be reused.
func (p *rawPoster) readResponse() (status int, keep bool, err error) {
	line, err := p.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, errResponse
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, errResponse
	}
	length, keep := -1, true
	for {
		line, err = p.br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errResponse
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, false, errResponse
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, errResponse
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	if length < 0 {
		return 0, false, errResponse
	}
	if _, err := p.br.Discard(length); err != nil {
		return 0, false, err
	}
	return status, keep, nil
}
