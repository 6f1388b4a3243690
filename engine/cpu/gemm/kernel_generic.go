package gemm

// genericKernel is the portable 4x8 micro-kernel: the reference the SIMD
// kernels are tested against, and the kernel on other architectures.
var genericKernel = microKernel{name: "generic4x8", mr: 4, nr: 8, fn: kernelGeneric4x8}

func kernelGeneric4x8(kc int, a, b, c *float32, ldc int, load bool) {
	const mr, nr = 4, 8
	ap := unsafeSlice(a, kc*mr)
	bp := unsafeSlice(b, kc*nr)
	var acc [mr][nr]float32
	for p := range kc {
		av := ap[p*mr : p*mr+mr]
		bv := bp[p*nr : p*nr+nr]
		for i := range mr {
			x := av[i]
			r := &acc[i]
			for j := range nr {
				r[j] += x * bv[j]
			}
		}
	}
	cs := unsafeSlice(c, (mr-1)*ldc+nr)
	for i := range mr {
		row := cs[i*ldc : i*ldc+nr]
		for j := range nr {
			if load {
				row[j] += acc[i][j]
			} else {
				row[j] = acc[i][j]
			}
		}
	}
}
