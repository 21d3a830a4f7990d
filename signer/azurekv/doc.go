// Package azurekv opens an Ed25519 key kept in Azure Key Vault.
//
// Azure Key Vault has no Ed25519 keys (it offers RSA and the NIST/secp256k1
// EC curves only), so it cannot sign for a1. This provider therefore keeps
// the 32-byte seed, hex-encoded, as a Key Vault SECRET, fetches it once at
// open with the official SDK (DefaultAzureCredential), and signs locally in
// process memory. Key Vault protects the seed at rest and controls and logs
// who reads it; it does not protect it from the process that opened it, and
// it sees no individual signature. Notice returns a sentence saying so, which
// signer.Open logs at warning level (never the seed).
//
// The identity needs secrets Get on the vault: the "Key Vault Secrets User"
// role (RBAC), or an access policy with the secret Get permission.
package azurekv
