package signer

import (
	"errors"
	"strings"
	"testing"
)

// FuzzFilePath: the file: URI parser never panics, fails only with
// ErrInvalidURI, and never yields an empty path or one from a file URL
// that carried a host, user, query or fragment.
func FuzzFilePath(f *testing.F) {
	for _, s := range []string{"/etc/a1/key", "relative", "///etc/a1/key", "//localhost/k", "//h/k", "///k?x", "///k#f", "//u@localhost/k", "///a%20b", "///a%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		p, err := filePath(rest)
		if err != nil {
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("error %v is not ErrInvalidURI", err)
			}
			return
		}
		if p == "" {
			t.Fatal("empty path accepted")
		}
		if authority, _, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "/"); strings.HasPrefix(rest, "//") &&
			(strings.ContainsAny(rest, "?#") || strings.Contains(authority, "@")) {
			t.Fatalf("file URL %q accepted as %q", rest, p)
		}
	})
}

// FuzzParseKeyFile: key file parsing never panics and never echoes the file
// in an error.
func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32)))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseKeyFile(append([]byte(nil), data...))
		if err != nil {
			if len(data) >= 16 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("error echoes the file: %v", err)
			}
			return
		}
		if s == nil || s.KeyID() == "" {
			t.Fatal("nil signer without error")
		}
	})
}
