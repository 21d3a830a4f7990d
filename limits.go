package a1

// Every bound the protocol layer enforces lives here. The reference limits
// (PROTOCOL.md §2.2, §5.2, §7.5, §8.5) keep their values; the decoding limits
// are ours (the reference decodes unbounded input, PROTOCOL.md §17.13).
const (
	// MaxActionLen is the maximum intent action length in bytes (reference).
	MaxActionLen = 256
	// MaxParams is the maximum number of intent parameters (reference).
	MaxParams = 64
	// MaxParamKeyLen is the maximum normalized parameter key length (reference).
	MaxParamKeyLen = 128
	// MaxParamValueLen is the maximum normalized parameter value length (reference).
	MaxParamValueLen = 4096

	// MaxExtensionBytes bounds the running size of a cert's extensions,
	// |key| + size(value) summed over all fields (reference issuer limit; we
	// also apply it when decoding).
	MaxExtensionBytes = 16384
	// MaxExtensionFields bounds the number of extension fields per cert.
	MaxExtensionFields = 64
	// MaxExtensionListLen bounds the number of strings in one Strings value.
	MaxExtensionListLen = 256

	// MaxChainCerts is the reference's hard chain-length cap.
	MaxChainCerts = 255
	// MaxDecodeCerts bounds how many certs a decoded chain may carry. Deep
	// delegation beyond this is not a real use case and only costs CPU.
	MaxDecodeCerts = 32
	// MaxSubsetIntents bounds the subset intents (and proofs) of one
	// SubScopeProof, and the leaves of any tree we build from input.
	MaxSubsetIntents = 1024
	// MaxProofSiblings bounds the length of one Merkle proof (a tree of
	// 2^64 leaves needs 64).
	MaxProofSiblings = 64

	// MaxChainJSONBytes bounds the encoded size of one chain.
	MaxChainJSONBytes = 1 << 20
	// MaxJSONDepth bounds nesting when decoding (and skipping unknown fields).
	MaxJSONDepth = 32

	// MaxNamespaceLen bounds a passport namespace.
	MaxNamespaceLen = 256
	// MaxCapabilities bounds the capabilities of one passport.
	MaxCapabilities = 256
	// MaxRegistryCapabilities is the CapabilityRegistry slot count (reference).
	MaxRegistryCapabilities = 256

	// DefaultDriftSecs is the default clock drift tolerance (reference: 15).
	DefaultDriftSecs = 15
	// DefaultMaxDepth is the CertBuilder default max_depth (reference).
	DefaultMaxDepth = 16
	// PassportRootMaxDepth is the max_depth of passport root certs (reference).
	PassportRootMaxDepth = 255

	// DefaultSigCacheSize is the default number of verified signature
	// triples a Verifier remembers.
	DefaultSigCacheSize = 4096

	// RevocationMaxSkewSecs bounds |now - issued_at| of a signed revocation.
	RevocationMaxSkewSecs = 300
	// MaxRevocationReasonLen bounds a revocation reason.
	MaxRevocationReasonLen = 512
	// MaxAudienceLen bounds the audience string of PoP and revocation envelopes.
	MaxAudienceLen = 256
)
