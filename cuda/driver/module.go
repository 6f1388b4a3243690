package driver

import (
	"unsafe"
)

// LoadModule loads a cubin, fatbin or PTX image from memory. PTX is text the
// driver JIT-compiles and must end in a NUL byte; LoadModule adds one to a
// copy when it is missing.
func (c *Context) LoadModule(image []byte) (Module, error) {
	if len(image) == 0 || image[len(image)-1] != 0 {
		image = append(append(make([]byte, 0, len(image)+1), image...), 0)
	}
	var m Module
	err := c.do("cuModuleLoadData", func() Result { return c.d.cuModuleLoadData(&m, unsafe.Pointer(&image[0])) })
	return m, err
}

// UnloadModule unloads m.
func (c *Context) UnloadModule(m Module) error {
	return c.do("cuModuleUnload", func() Result { return c.d.cuModuleUnload(m) })
}

// Function looks up a kernel by its (extern "C", unmangled) name.
func (c *Context) Function(m Module, name string) (Function, error) {
	var f Function
	err := c.do("cuModuleGetFunction", func() Result { return c.d.cuModuleGetFunction(&f, m, name) })
	return f, err
}

// FuncAttribute reads an attribute of a kernel (registers, static shared
// memory, local memory per thread).
func (c *Context) FuncAttribute(f Function, a FuncAttribute) (int, error) {
	var v int32
	err := c.do("cuFuncGetAttribute", func() Result { return c.d.cuFuncGetAttribute(&v, a, f) })
	return int(v), err
}

// SetFuncAttribute sets an attribute of a kernel; a launch with more than
// 48 KiB of dynamic shared memory needs FuncMaxDynamicSharedSizeByte first.
func (c *Context) SetFuncAttribute(f Function, a FuncAttribute, v int) error {
	return c.do("cuFuncSetAttribute", func() Result { return c.d.cuFuncSetAttribute(f, a, int32(v)) })
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z uint32 }

// Launch queues kernel f on s. params holds one pointer per kernel parameter,
// each to a copy of the argument's value (cuLaunchKernel's kernelParams); the
// driver copies the values during the call, so they need live only until it
// returns. params must be in memory that does not move: the caller allocates
// it on the heap (Go's heap objects never move).
func (c *Context) Launch(f Function, grid, block Dim3, smem int, s Stream, params []unsafe.Pointer) error {
	var kp unsafe.Pointer
	if len(params) > 0 {
		kp = unsafe.Pointer(&params[0])
	}
	return c.do("cuLaunchKernel", func() Result {
		return c.d.cuLaunchKernel(f, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, uint32(smem), s, kp, nil)
	})
}
