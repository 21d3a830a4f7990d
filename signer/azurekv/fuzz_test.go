package azurekv_test

import (
	"errors"
	"net/url"
	"regexp"
	"testing"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/azurekv"
)

var (
	nameRe    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionRe = regexp.MustCompile(`^[0-9A-Za-z]{0,64}$`)
)

// FuzzParseURI: ParseURI never panics, fails only with ErrInvalidURI, and
// accepts only an https vault URL with a valid secret name and version.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"https://v.vault.azure.net/secrets/a1-root", "https://v.vault.azure.net/secrets/a1-root/" + version,
		"https://v.vault.azure.net/secrets/a%2Fb", "https://u@v/secrets/x", "https://v/secrets/x?#",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		r, err := azurekv.ParseURI(rest)
		if err != nil {
			if !errors.Is(err, signer.ErrInvalidURI) {
				t.Fatalf("error %v is not ErrInvalidURI", err)
			}
			return
		}
		u, err := url.Parse(r.VaultURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path != "" {
			t.Fatalf("vault URL %q", r.VaultURL)
		}
		if !nameRe.MatchString(r.Name) || !versionRe.MatchString(r.Version) {
			t.Fatalf("name %q version %q", r.Name, r.Version)
		}
	})
}
