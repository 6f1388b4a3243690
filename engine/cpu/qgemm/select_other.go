//go:build purego || !amd64

package qgemm

// kernels is empty: callers use their portable code.
var kernels []Kernel
