package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/signer"
)

func init() {
	register(&command{name: "keygen", run: cmdKeygen, usage: `Usage: a1 keygen [--out FILE]

Generates an Ed25519 key. With --out (-o), writes the 32-byte seed as 64 hex
characters to FILE (mode 0600; an existing file is never overwritten) and
prints the public key hex on stdout. Without --out, prints the seed on stdout
and the public key on stderr.

Example:
  a1 keygen --out human.key
`})
	register(&command{name: "pubkey", run: cmdPubkey, usage: `Usage: a1 pubkey --key KEY

Prints the public key hex of a signing key (any signer URI; a bare value is
a file path).

Example:
  a1 pubkey --key human.key
`})
}

func cmdKeygen(e *env, args []string) error {
	fs := flagSet("keygen")
	var out string
	outFlag(fs, &out, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return failErr(fmt.Errorf("keygen: %w", err))
	}
	seed := priv.Seed()
	defer clear(seed)
	defer clear(priv)
	seedHex := []byte(hex.EncodeToString(seed))
	defer clear(seedHex)
	if out == "" {
		fmt.Fprintf(e.stdout, "%s\n", seedHex)
		fmt.Fprintf(e.stderr, "a1: public key: %s\n", hex.EncodeToString(pub))
		return nil
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, iofs.ErrExist) {
			return usagef("choose another --out path; a1 never overwrites a key", "keygen: %s already exists", out)
		}
		return failErr(fmt.Errorf("keygen: %w", err))
	}
	// The reference writes the raw seed hex without a newline.
	if _, err := f.Write(seedHex); err != nil {
		f.Close()
		os.Remove(out)
		return failErr(fmt.Errorf("keygen: writing %s: %w", out, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(out)
		return failErr(fmt.Errorf("keygen: writing %s: %w", out, err))
	}
	fmt.Fprintln(e.stdout, hex.EncodeToString(pub))
	return nil
}

func cmdPubkey(e *env, args []string) error {
	fs := flagSet("pubkey")
	var key string
	keyFlag(fs, &key)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := need("pubkey", map[string]string{"key": key}); err != nil {
		return err
	}
	_, pk, err := openKey(e, key)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, pk.Hex())
	return nil
}

// keyURI turns a --key value into a signer URI: a value with a known
// scheme is used as is, anything else is a file path.
func keyURI(v string) string {
	if scheme, _, ok := strings.Cut(v, ":"); ok {
		for _, s := range signer.Schemes() {
			if strings.EqualFold(scheme, s) {
				return v
			}
		}
	}
	return "file:" + v
}

// openKey opens a signing key and returns its public key.
func openKey(e *env, v string) (signer.Signer, a1.PublicKey, error) {
	s, err := signer.Open(e.ctx, keyURI(v))
	if err != nil {
		hint := "give a key file written by `a1 keygen --out FILE`, or a signer URI (file:, hex:, vault:, awskms:, gcpkms:, azurekv:)"
		if errors.Is(err, signer.ErrInsecureKeyFile) {
			hint = "chmod 600 the key file"
		}
		return nil, a1.PublicKey{}, usageErr(fmt.Errorf("opening key: %w", err), hint)
	}
	pk, err := a1.PublicKeyOf(s)
	if err != nil {
		return nil, a1.PublicKey{}, usageErr(fmt.Errorf("opening key: %w", err))
	}
	return s, pk, nil
}

// parsePK parses a 64-hex public key given in flag name.
func parsePK(name, v string) (a1.PublicKey, error) {
	pk, err := a1.ParsePublicKeyHex(strings.TrimSpace(v))
	if err != nil {
		return pk, usagef("a public key is 64 hex characters, as printed by `a1 keygen` or `a1 pubkey`", "--%s: %v", name, err)
	}
	if err := a1.CheckPublicKey(pk); err != nil {
		return pk, usagef("generate a new key with `a1 keygen`", "--%s: %v", name, err)
	}
	return pk, nil
}
