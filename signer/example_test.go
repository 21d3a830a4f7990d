package signer_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"log"

	"github.com/a1-go/a1/signer"
)

func ExampleOpen() {
	// In production the URI names a KMS key, e.g.
	//   awskms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
	//   gcpkms:projects/p/locations/global/keyRings/a1/cryptoKeys/root/cryptoKeyVersions/1
	//   vault:transit/a1-root
	s, err := signer.Open(context.Background(), "hex:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("a1 signable bytes")
	sig, err := s.Sign(nil, msg, crypto.Hash(0)) // pure Ed25519 over the message
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.KeyID())
	fmt.Println(ed25519.Verify(s.Public().(ed25519.PublicKey), msg, sig))
	// Output:
	// ed25519:21fe31dfa154a261
	// true
}

func ExampleNewCounting() {
	s, err := signer.Open(context.Background(), "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		log.Fatal(err)
	}
	c := signer.NewCounting(s)
	// ... hand c to the code under test, then:
	fmt.Println(c.Calls())
	// Output: 0
}
