// Package quant holds the W4A4 formats of COMET-style fine-grained mixed
// precision: int4 weights and int4/int8 activation groups with float32
// scales, the quantizers that produce them and their dequantization.
package quant

// DefaultGroup is the group size along K when none is given.
const DefaultGroup = 128

// Weights are per-output-channel, per-group int4 weights: w ≈ Scales[n,g] * code.
// QuantizeWeights builds them; Validate checks ones that come from elsewhere.
type Weights struct {
	N, K, Group int
	// Codes holds N rows of ceil(K/2) bytes: int4 codes two to a byte, the
	// even k in the low nibble, two's complement, in [-7, 7] (0x8 never occurs).
	Codes []byte
	// Scales is N x Groups(K, Group), row-major.
	Scales []float32
}

// Activations are per-row, per-group quantized activations whose groups are
// 4-bit or 8-bit (the same choice for every row): x ≈ Scales[m,g] * code.
// The int4 codes lie in [-7, 7] and the int8 codes in [-127, 127].
// QuantizeActivations builds them; Validate checks ones that come from elsewhere.
type Activations struct {
	M, K, Group int
	// Is8 marks, per group, whether the group is 8-bit.
	Is8 []bool
	// Codes holds the int4 groups: M rows of ceil(K4/2) packed bytes, where
	// K4 is the number of columns in 4-bit groups, in group order.
	Codes []byte
	// Codes8 holds the int8 groups: M rows of K8 codes (K8 = K - K4), in group order.
	Codes8 []int8
	// Scales is M x Groups(K, Group), row-major.
	Scales []float32
}

// Groups is the number of groups of size group along k (the last may be shorter).
func Groups(k, group int) int { return (k + group - 1) / group }

// GroupBounds returns the columns [lo, hi) of group g along k.
func GroupBounds(k, group, g int) (lo, hi int) {
	lo = g * group
	return lo, min(lo+group, k)
}
