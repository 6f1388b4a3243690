//go:build !linux

package cpu

// adviseHuge is a hint for Linux's transparent huge pages (see
// spgemm_huge_linux.go); elsewhere it does nothing.
func adviseHuge[E any](s []E) {}
