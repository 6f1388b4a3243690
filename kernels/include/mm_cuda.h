// The one header every kernel includes. Under nvcc it maps onto CUDA and inline PTX (sm_80+, PTX ISA
// 7.0+, valid for CUDA 11.8); under g++ it maps onto the CPU simulator (kernels/sim), which runs the
// same kernel source with fault checks. Kernels use only what is here for shared memory and for
// warp-level matrix instructions (no raw asm, no raw __shared__), so both builds see the same code.
//
// Shared memory:
//   MM_SHARED(T, name, n);              a static array of n T per block
//   MM_SHARED_ALIGNED(T, name, n, a);   the same, aligned to a bytes (16 for vector/ldmatrix/cp.async use)
//   MM_DYNAMIC_SHARED(T, name);         the block's dynamic shared memory (16-byte aligned), as T
// `name` is used like an array or pointer: name[i], name + i, &name[i]. In the simulator it is a
// tracked pointer (mmsim::SharedPtr), so: read an element into a typed variable (`float v = s[i];`,
// not `auto v = s[i];`), write whole vector elements (no `s[i].x = ...`), and write helpers that take
// shared memory as templates over the pointer type or as mm::smem_ptr<T>.
#pragma once

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#define MM_DEVICE __device__ __forceinline__
#define MM_HD __host__ __device__ __forceinline__
// Loops over register arrays (fragments, accumulators) must be unrolled, or the arrays go to local
// memory.
#define MM_UNROLL _Pragma("unroll")
#define MM_SHARED(T, name, n) __shared__ T name[n]
#define MM_SHARED_ALIGNED(T, name, n, a) __shared__ __align__(a) T name[n]
#define MM_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(16) unsigned char name##_mm_raw_[]; \
  T* const name = reinterpret_cast<T*>(name##_mm_raw_)
// The simulator's wrappers take the caller's source location to name the call site of a warp
// rendezvous and of a fault; under nvcc there is nothing to pass.
#define MM_LOC_PARAM
#define MM_LOC_FWD
#else
#include <cinttypes>
#include <cstdio>

#include "../sim/mma.h"
#define MM_DEVICE inline
#define MM_HD inline
#define MM_UNROLL
#define MM_LOC_PARAM , ::mmsim::Loc loc = ::mmsim::Loc::current()
#define MM_LOC_FWD , loc
#endif

#include "mm_layouts.h"

namespace mm {

// A pointer into shared memory, for helpers that take one.
#if defined(__CUDACC__)
template <class T>
using smem_ptr = T*;
#else
template <class T>
using smem_ptr = ::mmsim::SharedPtr<T>;
#endif

// reinterpret_cast for shared-memory pointers.
template <class U, class T>
MM_DEVICE smem_ptr<U> smem_cast(smem_ptr<T> p) {
#if defined(__CUDACC__)
  return reinterpret_cast<U*>(p);
#else
  return p.template cast<U>();
#endif
}

// A row-major 2-D view: m(r, c) is p[r * ld + c], over global or shared memory.
template <class P>
struct Mat {
  P p;
  int ld;
  MM_HD auto operator()(int r, int c) const -> decltype(p[0]) { return p[r * ld + c]; }
};
template <class P>
MM_HD Mat<P> mat(P p, int ld) {
  return Mat<P>{p, ld};
}

// ---- vector loads and stores: the address must be aligned to the vector's size ----
template <class V, class T>
MM_DEVICE V load_vec(const T* p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  return *reinterpret_cast<const V*>(p);
#else
  if (reinterpret_cast<uintptr_t>(p) % alignof(V))
    ::mmsim::rt::fail("misaligned " + std::to_string(sizeof(V)) + "-byte vector load from global address " +
                      [&] {
                        char b[32];
                        std::snprintf(b, sizeof b, "%p", static_cast<const void*>(p));
                        return std::string(b);
                      }() +
                      " (address % " + std::to_string(alignof(V)) + " = " +
                      std::to_string(reinterpret_cast<uintptr_t>(p) % alignof(V)) + ") at " + loc.file_name() + ":" +
                      std::to_string(loc.line()));
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
#endif
}
template <class V, class T>
MM_DEVICE void store_vec(T* p, const V& v MM_LOC_PARAM) {
#if defined(__CUDACC__)
  *reinterpret_cast<V*>(p) = v;
#else
  if (reinterpret_cast<uintptr_t>(p) % alignof(V))
    ::mmsim::rt::fail("misaligned " + std::to_string(sizeof(V)) + "-byte vector store to global memory (address % " +
                      std::to_string(alignof(V)) + " = " + std::to_string(reinterpret_cast<uintptr_t>(p) % alignof(V)) +
                      ") at " + loc.file_name() + ":" + std::to_string(loc.line()));
  std::memcpy(p, &v, sizeof(V));
#endif
}
#if !defined(__CUDACC__)
// Shared memory: the region checks bounds and alignment and records the access.
template <class V, class T>
MM_DEVICE V load_vec(::mmsim::SharedPtr<T> p MM_LOC_PARAM) {
  (void)loc;
  return p.template cast<const V>()[0];
}
template <class V, class T>
MM_DEVICE void store_vec(::mmsim::SharedPtr<T> p, const V& v MM_LOC_PARAM) {
  (void)loc;
  p.template cast<V>()[0] = v;
}
#endif
template <class P>
MM_DEVICE float4 load_float4(P p MM_LOC_PARAM) {
  return load_vec<float4>(p MM_LOC_FWD);
}

// ---- element conversions: a storage type (float, __half, __nv_bfloat16) <-> float32 ----
// from_f rounds to nearest even, as the kernels' float32 accumulators are rounded on store.
MM_DEVICE float to_f(float v) { return v; }
MM_DEVICE float to_f(__half v) { return __half2float(v); }
MM_DEVICE float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T>
MM_DEVICE T from_f(float v);
template <>
MM_DEVICE float from_f<float>(float v) {
  return v;
}
template <>
MM_DEVICE __half from_f<__half>(float v) {
  return __float2half_rn(v);
}
template <>
MM_DEVICE __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// ---- packing of mma operands ----
MM_HD uint32_t pack_half2(float lo, float hi) {
  return uint32_t(__half_as_ushort(__float2half_rn(lo))) | uint32_t(__half_as_ushort(__float2half_rn(hi))) << 16;
}
MM_HD uint32_t pack_bf162(float lo, float hi) {
  return uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(lo))) |
         uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(hi))) << 16;
}
MM_HD uint32_t pack_s8x4(int a0, int a1, int a2, int a3) {
  return uint32_t(a0 & 0xff) | uint32_t(a1 & 0xff) << 8 | uint32_t(a2 & 0xff) << 16 | uint32_t(a3 & 0xff) << 24;
}
// Eight signed 4-bit values (each in -8..7), element 0 in the low nibble.
MM_HD uint32_t pack_s4x8(const int (&v)[8]) {
  uint32_t r = 0;
  for (int i = 0; i < 8; i++) r |= uint32_t(v[i] & 0xf) << (4 * i);
  return r;
}
// cvt.rna.tf32.f32: the float rounded (nearest, ties away) to tf32, in a 32-bit register.
MM_DEVICE uint32_t to_tf32(float x) {
#if defined(__CUDACC__)
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#else
  return ::mmsim::to_tf32(x);
#endif
}

// ---- mma.sync: D = A * B + C, A row-major, B column-major; fragments per mm::layout ----
// PTX 9.7.14.5.8: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
MM_DEVICE void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                const float (&c)[4] MM_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  ::mmsim::mma_sync<layout::M16N8K16Half, ::mmsim::DecodeF16>("mma.m16n8k16.f16", d, a, b, c, loc);
#endif
}
// PTX 9.7.14.5.8: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
MM_DEVICE void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                 const float (&c)[4] MM_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  ::mmsim::mma_sync<layout::M16N8K16Half, ::mmsim::DecodeBF16>("mma.m16n8k16.bf16", d, a, b, c, loc);
#endif
}
// PTX 9.7.14.5.7: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (operands from mm::to_tf32)
MM_DEVICE void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                const float (&c)[4] MM_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  ::mmsim::mma_sync<layout::M16N8K8Tf32, ::mmsim::DecodeTf32>("mma.m16n8k8.tf32", d, a, b, c, loc);
#endif
}
// PTX 9.7.14.5.10: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 (wrapping, no .satfinite)
MM_DEVICE void mma_m16n8k32_s8(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                               const int (&c)[4] MM_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
#else
  ::mmsim::mma_sync<layout::M16N8K32S8, ::mmsim::DecodeS8>("mma.m16n8k32.s8", d, a, b, c, loc);
#endif
}
// PTX 9.7.14.5.11: mma.sync.aligned.m16n8k64.row.col.s32.s4.s4.s32 (wrapping, no .satfinite)
MM_DEVICE void mma_m16n8k64_s4(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                               const int (&c)[4] MM_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k64.row.col.s32.s4.s4.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
#else
  ::mmsim::mma_sync<layout::M16N8K64S4, ::mmsim::DecodeS4>("mma.m16n8k64.s4", d, a, b, c, loc);
#endif
}

// Calls f(m, n, value) for each element of a warp's MT x NT tiles of m16n8 accumulators (float or
// int; mm::layout::AccM16N8), m and n counted from the piece's origin (m0, n0).
template <int MT, int NT, class A, class F>
MM_DEVICE void for_acc(const A (&acc)[MT][NT][4], int m0, int n0, F&& f) {
  using C = layout::AccM16N8;
  const int lane = threadIdx.x & 31;
  MM_UNROLL
  for (int mt = 0; mt < MT; mt++)
    MM_UNROLL
    for (int nt = 0; nt < NT; nt++)
      MM_UNROLL
      for (int i = 0; i < 4; i++) f(m0 + 16 * mt + C::row(lane, i), n0 + 8 * nt + C::col(lane, i), acc[mt][nt][i]);
}

// ---- ldmatrix (PTX 9.7.14.5.15; layout: mm::layout::LdMatrix). p: this lane's row address in shared
// memory (16-byte aligned); lanes 0-7 (x1), 0-15 (x2) or 0-31 (x4) supply the rows. ----
template <class T>
MM_DEVICE void ldmatrix_x1(uint32_t (&d)[1], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(d[0]) : "r"(a) : "memory");
#else
  ::mmsim::ldmatrix(1, false, d, p, loc);
#endif
}
template <class T>
MM_DEVICE void ldmatrix_x2(uint32_t (&d)[2], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(d[0]), "=r"(d[1]) : "r"(a) : "memory");
#else
  ::mmsim::ldmatrix(2, false, d, p, loc);
#endif
}
template <class T>
MM_DEVICE void ldmatrix_x4(uint32_t (&d)[4], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a)
               : "memory");
#else
  ::mmsim::ldmatrix(4, false, d, p, loc);
#endif
}
template <class T>
MM_DEVICE void ldmatrix_x1_trans(uint32_t (&d)[1], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(d[0]) : "r"(a) : "memory");
#else
  ::mmsim::ldmatrix(1, true, d, p, loc);
#endif
}
template <class T>
MM_DEVICE void ldmatrix_x2_trans(uint32_t (&d)[2], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(d[0]), "=r"(d[1])
               : "r"(a)
               : "memory");
#else
  ::mmsim::ldmatrix(2, true, d, p, loc);
#endif
}
template <class T>
MM_DEVICE void ldmatrix_x4_trans(uint32_t (&d)[4], smem_ptr<T> p MM_LOC_PARAM) {
#if defined(__CUDACC__)
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a)
               : "memory");
#else
  ::mmsim::ldmatrix(4, true, d, p, loc);
#endif
}

// ---- cp.async (PTX "Data Movement and Conversion Instructions: cp.async", sm_80+): asynchronous
// global -> shared copies, complete after cp_async_wait<N>() (all but the N newest committed groups)
// or cp_async_wait_all(). A __syncthreads is still needed before other threads read the data. ----
// 16 bytes, L2 only (.cg); dst and src 16-byte aligned.
template <class T>
MM_DEVICE void cp_async_16(smem_ptr<T> dst, const T* src) {
#if defined(__CUDACC__)
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(addr), "l"(src) : "memory");
#else
  ::mmsim::cp_async(dst, src, 16, 16, "cp.async.cg 16");
#endif
}
// The same, but copying only when valid and zero-filling the 16 bytes otherwise (src-size 0): for
// the edges of partial tiles. src must still be a valid-looking address; it is not read when !valid.
template <class T>
MM_DEVICE void cp_async_16_zfill(smem_ptr<T> dst, const T* src, bool valid) {
#if defined(__CUDACC__)
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(src), "r"(n) : "memory");
#else
  ::mmsim::cp_async(dst, src, 16, valid ? 16 : 0, "cp.async.cg 16");
#endif
}
// 4 or 8 bytes through L1 (.ca); dst and src aligned to the size.
template <int kBytes, class T>
MM_DEVICE void cp_async_ca(smem_ptr<T> dst, const T* src) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(__CUDACC__)
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(addr), "l"(src), "n"(kBytes) : "memory");
#else
  ::mmsim::cp_async(dst, src, kBytes, kBytes, "cp.async.ca");
#endif
}
MM_DEVICE void cp_async_commit() {
#if defined(__CUDACC__)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#else
  ::mmsim::rt::async_commit();
#endif
}
template <int N>
MM_DEVICE void cp_async_wait() {
#if defined(__CUDACC__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#else
  ::mmsim::rt::async_wait(N);
#endif
}
MM_DEVICE void cp_async_wait_all() {
#if defined(__CUDACC__)
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#else
  ::mmsim::rt::async_commit();
  ::mmsim::rt::async_wait(0);
#endif
}

}  // namespace mm
