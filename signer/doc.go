// Package signer holds a1's signing keys: a [Signer] is a [crypto.Signer]
// over an Ed25519 key, with a stable [Signer.KeyID], opened from a URI by
// [Open].
//
// # Providers
//
// The URI scheme picks the provider from an explicit table (no init()
// registration):
//
//   - file:PATH: a local seed file (64 hex characters, as `a1 keygen` writes,
//     or a PEM PKCS#8 Ed25519 key); the file must not be readable by others
//   - hex:SEED, or a bare 64-character hex seed: a local key
//   - vault:MOUNT/KEY, vault://HOST:PORT/MOUNT/KEY: HashiCorp Vault or
//     OpenBao transit, ed25519 keys
//   - awskms:KEY: AWS KMS, key spec ECC_NIST_EDWARDS25519
//   - gcpkms:projects/…/cryptoKeyVersions/V: Cloud KMS, EC_SIGN_ED25519
//   - azurekv:https://VAULT.vault.azure.net/secrets/NAME[/VERSION]: Azure
//     Key Vault has no Ed25519 keys, so the seed is kept as a Key Vault
//     secret, fetched once at open, and used to sign locally (see [Noticer])
//
// docs/kms.md gives every URI form, the permissions each provider needs, and
// the timeout and retry policy.
//
// # Guarantees
//
// Signatures are pure Ed25519 over the message: the opts passed to Sign must
// be crypto.Hash(0) (or *ed25519.Options without hash or context), anything
// else fails with [ErrUnsupportedOpts]. Every remote provider checks at open
// that the key is Ed25519 ([ErrUnsupportedKey]) and caches the public key;
// it verifies every signature the service returns against it before handing
// it out ([ErrBadSignature]), bounds each call with a deadline, and retries
// transient failures (5xx, throttling, unavailable) a bounded number of times
// with backoff. Key material and credentials never appear in errors or logs.
//
// Signers are used for issuance only (certs, passports, receipts,
// checkpoints); authorization verifies with the public keys embedded in
// certificates and never calls a signer. [Counting] counts Sign calls so that
// tests can assert it.
//
// Build tags novault, noawskms, nogcpkms and noazurekv replace a provider,
// and its SDK, with a stub that fails with [ErrCompiledOut].
package signer
