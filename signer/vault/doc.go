// Package vault signs with an ed25519 key of the transit secrets engine of
// HashiCorp Vault or OpenBao, through the official client
// (github.com/hashicorp/vault/api) with token, AppRole or Kubernetes auth.
//
// At open it reads MOUNT/keys/KEY, checks that the key type is ed25519 and
// pins a key version (the one asked for, else the latest), whose public key
// it caches. Each signature is a POST to MOUNT/sign/KEY with the base64
// message and that key_version, and no hash options (ed25519 transit keys
// sign the message itself: pure Ed25519); the "vault:vN:" signature is
// checked to carry the pinned version and verified locally before it is
// returned. After a rotation the signer keeps using its pinned version until
// it is reopened.
//
// The token needs this policy (MOUNT transit, KEY a1-root):
//
//	path "transit/sign/a1-root" { capabilities = ["update"] }
//	path "transit/keys/a1-root" { capabilities = ["read"] }
package vault
