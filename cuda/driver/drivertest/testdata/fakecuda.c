/* A stand-in for libcuda.so.1 that the driver package's tests load with
 * OpenLibrary, so that every binding (argument order, widths, out pointers,
 * error names) is exercised on machines without a GPU. "Device" memory is
 * host memory, device pointers are host addresses, and a "kernel" is a C
 * function called once per launch with cuLaunchKernel's arguments. Signatures
 * follow cuda.h (CUDA 11.8); only what the tests need behaves, the rest
 * answers CUDA_ERROR_NOT_SUPPORTED. Build: cc -shared -fPIC -o libfakecuda.so fakecuda.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUstream, *CUevent, *CUmodule, *CUfunction;

enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_DEVICE = 101,
       INVALID_CONTEXT = 201, NOT_FOUND = 500, NOT_SUPPORTED = 801 };

static int initialized;
static __thread CUcontext current; /* per OS thread, as in the real driver */
static int primary_refs;
static char primary_ctx;      /* its address is the context handle */
static int max_dyn_smem = 48 << 10;

CUresult cuInit(unsigned flags) { if (flags != 0) return INVALID_VALUE; initialized = 1; return OK; }
CUresult cuDriverGetVersion(int *v) { *v = 12040; return OK; }

CUresult cuGetErrorName(CUresult r, const char **s) {
	switch (r) {
	case OK: *s = "CUDA_SUCCESS"; return OK;
	case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
	case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
	case INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; return OK;
	case INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; return OK;
	case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return OK;
	case NOT_SUPPORTED: *s = "CUDA_ERROR_NOT_SUPPORTED"; return OK;
	}
	*s = 0;
	return INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
	switch (r) {
	case INVALID_VALUE: *s = "invalid argument"; return OK;
	case OUT_OF_MEMORY: *s = "out of memory"; return OK;
	case INVALID_CONTEXT: *s = "invalid device context"; return OK;
	case INVALID_DEVICE: *s = "invalid device ordinal"; return OK;
	case NOT_FOUND: *s = "named symbol not found"; return OK;
	case NOT_SUPPORTED: *s = "operation not supported"; return OK;
	}
	*s = 0;
	return INVALID_VALUE;
}

CUresult cuDeviceGetCount(int *n) { if (!initialized) return NOT_INITIALIZED; *n = 1; return OK; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) { if (ordinal != 0) return INVALID_DEVICE; *d = 7; return OK; }
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	if (d != 7) return INVALID_DEVICE;
	strncpy(name, "Fake GPU", (size_t)len);
	return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d) {
	if (d != 7) return INVALID_DEVICE;
	switch (attr) {
	case 1: *v = 1024; return OK;          /* max threads per block */
	case 8: *v = 48 << 10; return OK;      /* shared per block */
	case 10: *v = 32; return OK;           /* warp size */
	case 12: *v = 65536; return OK;        /* registers per block */
	case 13: *v = 1980000; return OK;      /* clock kHz */
	case 16: *v = 132; return OK;          /* SMs */
	case 36: *v = 2619000; return OK;      /* memory clock kHz */
	case 37: *v = 6144; return OK;         /* bus width */
	case 38: *v = 50 << 20; return OK;     /* L2 */
	case 39: *v = 2048; return OK;         /* threads per SM */
	case 75: *v = 9; return OK;            /* cc major */
	case 76: *v = 0; return OK;            /* cc minor */
	case 81: *v = 228 << 10; return OK;    /* shared per SM */
	case 97: *v = 227 << 10; return OK;    /* shared per block, opt-in */
	case 115: *v = 1; return OK;           /* memory pools */
	}
	return INVALID_VALUE;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
	if (d != 7) return INVALID_DEVICE;
	*bytes = (size_t)141 << 30;
	return OK;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
	if (d != 7) return INVALID_DEVICE;
	primary_refs++;
	*c = &primary_ctx;
	return OK;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
	if (d != 7 || primary_refs == 0) return INVALID_DEVICE;
	primary_refs--;
	return OK;
}
CUresult cuCtxSetCurrent(CUcontext c) { current = c; return OK; }
CUresult cuCtxSynchronize(void) { return current ? OK : INVALID_CONTEXT; }

/* Every call below needs the context current, as the real driver does. */
#define NEED_CTX if (current != &primary_ctx) return INVALID_CONTEXT

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
	NEED_CTX;
	if (n > ((size_t)1 << 40)) return OUT_OF_MEMORY;
	void *m = calloc(1, n ? n : 1);
	if (!m) return OUT_OF_MEMORY;
	*p = (CUdeviceptr)(uintptr_t)m;
	return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) { NEED_CTX; free((void *)(uintptr_t)p); return OK; }
/* cuMemAllocAsync and cuMemFreeAsync are left out on purpose: the package
 * must then fall back to the synchronous calls. */
CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) { NEED_CTX; memset((void *)(uintptr_t)p, v, n); return OK; }
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) { (void)s; return cuMemsetD8_v2(p, v, n); }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { NEED_CTX; memcpy((void *)(uintptr_t)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { NEED_CTX; memcpy(d, (void *)(uintptr_t)s, n); return OK; }
CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { NEED_CTX; memmove((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUstream st) { (void)st; return cuMemcpyHtoD_v2(d, s, n); }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, CUstream st) { (void)st; return cuMemcpyDtoH_v2(d, s, n); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) { (void)st; return cuMemcpyDtoD_v2(d, s, n); }
CUresult cuMemHostAlloc(void **p, size_t n, unsigned flags) { NEED_CTX; if (flags != 1) return INVALID_VALUE; *p = calloc(1, n); return *p ? OK : OUT_OF_MEMORY; }
CUresult cuMemFreeHost(void *p) { NEED_CTX; free(p); return OK; }

static char stream_obj, event_objs[16];
static int event_next;
static double event_ms[16];
CUresult cuStreamCreate(CUstream *s, unsigned flags) { NEED_CTX; if (flags != 1) return INVALID_VALUE; *s = &stream_obj; return OK; }
CUresult cuStreamSynchronize(CUstream s) { NEED_CTX; return (s == 0 || s == &stream_obj) ? OK : INVALID_VALUE; }
CUresult cuStreamDestroy_v2(CUstream s) { NEED_CTX; return s == &stream_obj ? OK : INVALID_VALUE; }
CUresult cuEventCreate(CUevent *e, unsigned flags) {
	NEED_CTX;
	if (flags != 0 || event_next == 16) return INVALID_VALUE;
	*e = &event_objs[event_next++];
	return OK;
}
/* Event i is recorded at time 1.5*i ms, so that elapsed times are known. */
CUresult cuEventRecord(CUevent e, CUstream s) { NEED_CTX; (void)s; int i = (int)((char *)e - event_objs); event_ms[i] = 1.5 * i; return OK; }
CUresult cuEventSynchronize(CUevent e) { NEED_CTX; (void)e; return OK; }
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
	NEED_CTX;
	*ms = (float)(event_ms[(char *)b - event_objs] - event_ms[(char *)a - event_objs]);
	return OK;
}
CUresult cuEventDestroy_v2(CUevent e) { NEED_CTX; (void)e; return OK; }

/* The only module: an image that must equal "FAKEIMAGE" (NUL-terminated),
 * holding one kernel, "saxpy": y[i] = a*x[i] + y[i] for i < n, with
 * y (float*), x (const float*), a (float), n (int), and the grid's and
 * block's x sizes and the dynamic shared memory written to out (int*). */
typedef void (*kernel)(unsigned gx, unsigned bx, unsigned smem, void **params);
static void saxpy(unsigned gx, unsigned bx, unsigned smem, void **params) {
	float *y = *(float **)params[0];
	const float *x = *(const float **)params[1];
	float a = *(float *)params[2];
	int n = *(int *)params[3];
	long long *out = *(long long **)params[4];
	for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
	out[0] = gx; out[1] = bx; out[2] = smem;
}
static char module_obj;
CUresult cuModuleLoadData(CUmodule *m, const void *image) {
	NEED_CTX;
	if (strcmp((const char *)image, "FAKEIMAGE") != 0) return INVALID_VALUE;
	*m = &module_obj;
	return OK;
}
CUresult cuModuleUnload(CUmodule m) { NEED_CTX; return m == &module_obj ? OK : INVALID_VALUE; }
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
	NEED_CTX;
	if (m != &module_obj) return INVALID_VALUE;
	if (strcmp(name, "saxpy") != 0) return NOT_FOUND;
	*f = (void *)saxpy;
	return OK;
}
CUresult cuFuncGetAttribute(int *v, int attr, CUfunction f) {
	NEED_CTX;
	(void)f;
	switch (attr) {
	case 4: *v = 18; return OK;
	case 8: *v = max_dyn_smem; return OK;
	}
	return NOT_SUPPORTED;
}
CUresult cuFuncSetAttribute(CUfunction f, int attr, int v) {
	NEED_CTX;
	(void)f;
	if (attr != 8 || v > (227 << 10)) return INVALID_VALUE;
	max_dyn_smem = v;
	return OK;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream s, void **params, void **extra) {
	NEED_CTX;
	(void)s;
	if (gy != 1 || gz != 1 || by != 1 || bz != 1 || extra != 0) return INVALID_VALUE;
	if (smem > (unsigned)max_dyn_smem) return INVALID_VALUE;
	((kernel)f)(gx, bx, smem, params);
	return OK;
}
