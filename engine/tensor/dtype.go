package tensor

import "fmt"

// DType is the element type of a Tensor.
type DType uint8

// The element types. Int4 is packed two codes to a byte along the last axis
// (even index in the low nibble, two's complement), each row padded to a whole byte.
const (
	Invalid DType = iota
	Float32
	Float64
	Float16
	BFloat16
	Int8
	Int32
	Int64
	Int4
)

var dtypeNames = [...]string{"invalid", "float32", "float64", "float16", "bfloat16", "int8", "int32", "int64", "int4"}
var dtypeBits = [...]int{0, 32, 64, 16, 16, 8, 32, 64, 4}

func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Bits is the storage width of one element.
func (d DType) Bits() int {
	if int(d) < len(dtypeBits) {
		return dtypeBits[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d >= Float32 && d <= BFloat16 }

// Valid reports whether d is one of the defined element types.
func (d DType) Valid() bool { return d > Invalid && d <= Int4 }

// ParseDType maps a name such as "float32" or "bf16" to its DType.
func ParseDType(s string) (DType, bool) {
	switch s {
	case "f32":
		return Float32, true
	case "f64":
		return Float64, true
	case "f16", "half":
		return Float16, true
	case "bf16":
		return BFloat16, true
	}
	for i, n := range dtypeNames {
		if i > 0 && n == s {
			return DType(i), true
		}
	}
	return Invalid, false
}
