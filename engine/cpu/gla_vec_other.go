//go:build purego || !amd64

package cpu

// glaVecs is empty: the GLA vector loops run in Go.
var glaVecs []glaVec

// glaFetch does nothing: Go has no prefetch.
func glaFetch[T float](x []T) {}
