package tensor

import (
	"math"

	"github.com/x448/float16"
)

// F16 is an IEEE 754 binary16 value, stored as its bits.
type F16 = float16.Float16

// ToF16 rounds a float32 to the nearest F16 (ties to even).
func ToF16(f float32) F16 { return float16.Fromfloat32(f) }

// BF16 is a bfloat16 value (the upper half of a float32), stored as its bits.
type BF16 uint16

// ToBF16 rounds a float32 to the nearest BF16 (ties to even); NaN stays NaN.
func ToBF16(f float32) BF16 {
	b := math.Float32bits(f)
	if f != f {
		return BF16(b>>16 | 0x40) // keep it a quiet NaN whatever the low bits held
	}
	// Round to nearest even on the 16 bits dropped.
	b += 0x7fff + (b>>16)&1
	return BF16(b >> 16)
}

// Float32 widens a BF16 exactly.
func (b BF16) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }
