/* The C ABI of the CUDA simulator (kernels/sim), for cgo. Device pointers are host addresses:
 * host<->device copies are plain memcpy on the caller's side. Every function is safe to call from
 * any thread; launches on different threads run concurrently and independently. Errors are one-line
 * messages written into err (truncated to errlen, always NUL-terminated when errlen > 0). */
#ifndef MMSIM_H
#define MMSIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  unsigned x, y, z;
} mmsim_dim3;

/* Calls the kernel with args laid out as cuLaunchKernel's kernelParams: args[i] points to the i-th
 * argument's value. Runs once per simulated thread. */
typedef void (*mmsim_invoker)(void** args);

/* Registers a kernel under its extern "C" name (generated code calls it from a static initializer).
 * Registering one name twice makes launches of that name fail. */
void mmsim_register(const char* name, mmsim_invoker f);

/* Device allocation: 256-byte aligned, contents 0xff bytes (NaN as float), with guard zones before
 * and after that are checked after every launch and at free (and poisoned for AddressSanitizer in
 * -fsanitize=address builds, so an access past the end stops at the faulting access). NULL on failure.
 * A zero-byte allocation returns a distinct non-NULL pointer. */
void* mmsim_malloc(size_t bytes);

/* Frees p. 0 ok; else non-zero and a message (a guard zone was overwritten, or p is not a live
 * allocation). The memory is released in both cases when p was live. */
int mmsim_free(void* p, char* err, size_t errlen);

/* Runs the whole grid of kernel `name` with dyn_smem bytes of dynamic shared memory per block.
 * 0 ok; else non-zero and "kernel NAME block (x,y,z) thread (x,y,z): what went wrong" (a fault), or a
 * message about the launch itself (unknown kernel, bad dimensions, shared memory over the limit). */
int mmsim_launch(const char* name, mmsim_dim3 grid, mmsim_dim3 block, size_t dyn_smem, void** args, char* err,
                 size_t errlen);

/* Per-block dynamic shared memory limit, default 227 KiB (sm_90's opt-in maximum). 0 ok; non-zero
 * when max_dyn_smem exceeds 227 KiB. Process-wide. */
int mmsim_set_limits(size_t max_dyn_smem);

/* Checks the guard zones of every live allocation: 0 ok, else non-zero and a message. */
int mmsim_check(char* err, size_t errlen);

/* Number of live allocations (for leak checks in tests). */
size_t mmsim_live_allocations(void);

/* 1 when the simulator was built with AddressSanitizer (then faults past a buffer abort the
 * process with ASan's report instead of failing the launch), else 0. */
int mmsim_asan(void);

#ifdef __cplusplus
}
#endif

#endif /* MMSIM_H */
