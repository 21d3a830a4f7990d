package a1

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"strings"
)

// Mask is a NarrowingMatrix: a 256-bit capability mask (PROTOCOL.md §8).
type Mask [32]byte

// Well-known masks.
var (
	EmptyMask = Mask{}
	FullMask  = Mask{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// CapabilityBit returns the (byte, bit) a capability name maps to: the
// first two bytes of DK(narrowing)[name], mod 32 and mod 8.
func CapabilityBit(name string) (byteIndex, bit int) {
	w := newHW(hNarrowing)
	w.str(name)
	o := w.sum()
	return int(o[0] % 32), int(o[1] % 8)
}

// MaskOf maps capability names to a mask (hash-based bit assignment).
func MaskOf(names ...string) Mask {
	var m Mask
	for _, n := range names {
		b, bit := CapabilityBit(n)
		m[b] |= 1 << bit
	}
	return m
}

// MaskFromCSV splits on commas, trims, drops empty names, then MaskOf.
func MaskFromCSV(csv string) Mask { return MaskOf(SplitCSV(csv)...) }

// SplitCSV splits on ',', trims each name and drops empties.
func SplitCSV(csv string) []string {
	var out []string
	for _, p := range strings.Split(csv, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseMaskHex parses the 64-hex-character form.
func ParseMaskHex(s string) (Mask, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return Mask{}, wireError("invalid narrowing matrix hex")
	}
	if len(b) != 32 {
		return Mask{}, wireError("narrowing matrix must be exactly 32 bytes")
	}
	return Mask(b), nil
}

// Hex returns the lowercase hex form.
func (m Mask) Hex() string { return hex.EncodeToString(m[:]) }

// SubsetOf reports child ⊆ parent.
func (m Mask) SubsetOf(parent Mask) bool {
	for i := range m {
		if m[i]&parent[i] != m[i] {
			return false
		}
	}
	return true
}

// Intersect is the bytewise AND.
func (m Mask) Intersect(o Mask) Mask {
	var r Mask
	for i := range m {
		r[i] = m[i] & o[i]
	}
	return r
}

// Count is the number of set bits.
func (m Mask) Count() int {
	n := 0
	for _, b := range m {
		n += bits.OnesCount8(b)
	}
	return n
}

// Bits lists the set bit positions (byte*8 + bit), ascending.
func (m Mask) Bits() []int {
	var out []int
	for i, b := range m {
		for j := 0; j < 8; j++ {
			if b&(1<<j) != 0 {
				out = append(out, i*8+j)
			}
		}
	}
	return out
}

// Commitment is DK(narrowing)[mask] (PROTOCOL.md §8.4).
func (m Mask) Commitment() [32]byte {
	w := newHW(hNarrowing)
	w.bytes(m[:])
	return w.sum()
}

// EnforceNarrowing returns ErrNarrowingViolation unless child ⊆ parent.
func EnforceNarrowing(child, parent Mask) error {
	if !child.SubsetOf(parent) {
		return newErr(ErrNarrowingViolation, "")
	}
	return nil
}

// CapabilityRegistry assigns capabilities sequential, collision-free slots
// (PROTOCOL.md §8.5). Its masks use a different layout from MaskOf and are
// never serialized or committed by the protocol.
type CapabilityRegistry struct {
	slots map[string]int
	names []string
}

// Register returns the slot of name, assigning the next one if new.
func (r *CapabilityRegistry) Register(name string) (int, error) {
	if s, ok := r.slots[name]; ok {
		return s, nil
	}
	if len(r.names) >= MaxRegistryCapabilities {
		return 0, wireErrorf("CapabilityRegistry is full: maximum %d capabilities per registry", MaxRegistryCapabilities)
	}
	if r.slots == nil {
		r.slots = make(map[string]int)
	}
	s := len(r.names)
	r.slots[name] = s
	r.names = append(r.names, name)
	return s, nil
}

// Slot returns the slot of a registered name.
func (r *CapabilityRegistry) Slot(name string) (int, bool) {
	s, ok := r.slots[name]
	return s, ok
}

// Len is the number of registered names.
func (r *CapabilityRegistry) Len() int { return len(r.names) }

// BuildMask sets the slot bit of every name; unknown names are an error.
func (r *CapabilityRegistry) BuildMask(names ...string) (Mask, error) {
	var m Mask
	for _, n := range names {
		s, ok := r.slots[n]
		if !ok {
			return Mask{}, wireError(fmt.Sprintf("capability '%s' is not registered; call register() first", n))
		}
		m[s/8] |= 1 << (s % 8)
	}
	return m, nil
}
