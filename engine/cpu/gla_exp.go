package cpu

import "math"

// exp2f32 is 2^x rounded to float32, within about one float32 ulp: x splits
// into n + f with n an integer and |f| <= 1/2; 2^f is the degree-7 Taylor
// polynomial of e^(f ln 2) (remainder below 6e-9 relative), evaluated in
// float64 and scaled by 2^n through the exponent bits. Clamping x to
// [-160, 128] keeps 2^n a normal float64 and still rounds to 0 and +Inf
// (float32 ends below 2^-150 and at 2^128); NaN stays NaN. It is small
// enough to inline into the loops that call it.
func exp2f32(x float64) float32 {
	if x < -160 { // false for NaN, as x > 128
		x = -160
	}
	if x > 128 {
		x = 128
	}
	// Adding and subtracting 1.5*2^52 rounds x to an integer (ties to even).
	const round = 1.5 * (1 << 52)
	n := (x + round) - round
	f := x - n
	// c_i = ln(2)^i / i!, the Taylor coefficients of 2^f = e^(f ln 2).
	const (
		ln2 = math.Ln2
		c2  = ln2 * ln2 / 2
		c3  = c2 * ln2 / 3
		c4  = c3 * ln2 / 4
		c5  = c4 * ln2 / 5
		c6  = c5 * ln2 / 6
		c7  = c6 * ln2 / 7
	)
	p := 1 + f*(ln2+f*(c2+f*(c3+f*(c4+f*(c5+f*(c6+f*c7))))))
	return float32(p * math.Float64frombits(uint64(int64(n)+1023)<<52))
}
