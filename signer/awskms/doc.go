// Package awskms signs with an AWS KMS key of key spec ECC_NIST_EDWARDS25519,
// using the ED25519_SHA_512 signing algorithm over a RAW message, which is
// pure Ed25519 (RFC 8032 PureEdDSA). The public key is fetched once at open
// (GetPublicKey), checked to be Ed25519, and every signature is verified
// against it before it is returned. Aliases are resolved to the key ARN at
// open, so re-pointing an alias later does not change the signing key.
//
// The IAM principal needs kms:GetPublicKey and kms:Sign on the key.
package awskms
