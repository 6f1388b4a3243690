package cpu

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the transparent huge page size of x86-64 and arm64 (4 KiB
// base pages).
const hugePage = 2 << 20

// adviseHuge asks Linux to back the 2 MiB-aligned interior of a large,
// not yet written slice with transparent huge pages, as NumPy does for
// arrays of 4 MiB and more (numpy/_core/src/multiarray/alloc.c): C is
// written once, all of it, so first-touch faults dominate its cost, and a
// huge page takes one fault where 512 small ones take 512. Memory the Go
// runtime reuses is already mapped and is left as it is. Only a hint:
// errors (a kernel without THP, or THP set to never) are ignored.
func adviseHuge[E any](s []E) {
	size := uintptr(len(s)) * unsafe.Sizeof(*new(E))
	if size < hugePage {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(s))
	p := uintptr(base)
	lo, hi := (p+hugePage-1)&^(hugePage-1), (p+size)&^(hugePage-1)
	if hi > lo {
		_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(base, lo-p)), hi-lo), unix.MADV_HUGEPAGE)
	}
}
