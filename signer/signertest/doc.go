// Package signertest is the contract suite every signer provider must pass:
// signertest.Run(t, open) checks the public key, pure Ed25519 signatures,
// the key id, option rejection, determinism, the message bound, context
// cancellation and concurrent use.
package signertest
