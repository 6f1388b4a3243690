package device

import (
	"fmt"
	"unsafe"

	"github.com/matmix/matmix/engine/errs"
)

// Elem is an element type whose memory is plain bits (no Go pointers), so
// that a slice of it may be viewed as bytes and copied to a device.
type Elem interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// Bytes views s as bytes, without copying.
func Bytes[T Elem](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}

// Upload allocates device memory for src and copies it there.
func Upload[T Elem](d Device, src []T) (Ptr, error) {
	b := Bytes(src)
	p, err := d.Alloc(max(len(b), 1))
	if err != nil {
		return 0, err
	}
	if err := d.CopyHtoD(p, b); err != nil {
		if ferr := d.Free(p); ferr != nil {
			err = fmt.Errorf("%w; then free: %w", err, ferr)
		}
		return 0, errs.Device("upload", err, "copy of %d bytes", len(b))
	}
	return p, nil
}

// Download copies len(dst) elements from device memory at src.
func Download[T Elem](d Device, dst []T, src Ptr) error {
	return d.CopyDtoH(Bytes(dst), src)
}
