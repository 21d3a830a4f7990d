// Package gcpkms signs with a Cloud KMS key version of algorithm
// EC_SIGN_ED25519. Ed25519 keys sign the raw message (AsymmetricSign's data
// field), never a digest: that is pure Ed25519. The PEM public key is fetched
// once at open and checked; CRC32C checksums are sent and checked both ways
// as Google recommends; every signature is verified locally before it is
// returned.
//
// The principal needs roles/cloudkms.signerVerifier (cloudkms.cryptoKeyVersions.useToSign)
// and roles/cloudkms.publicKeyViewer (cloudkms.cryptoKeyVersions.viewPublicKey)
// on the key. Credentials come from Application Default Credentials.
package gcpkms
