// CUDA's execution model for kernels compiled by g++ (C++20): built-in variables, qualifiers,
// barriers, warp shuffles and votes, atomics, device math, and tracked shared memory.
// Included by kernels/include/mm_cuda.h when not compiling with nvcc; kernels include that header.
#pragma once

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "runtime.h"
#include "shared.h"
#include "types.h"

// ---- qualifiers: no meaning on the CPU ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// __shared__ is left undefined on purpose: kernels declare shared memory with MM_SHARED /
// MM_DYNAMIC_SHARED so the simulator can track it; a raw __shared__ does not compile here.

// ---- built-in variables ----
#define threadIdx (::mmsim::rt::thread_idx())
#define blockIdx (::mmsim::rt::block_idx())
#define blockDim (::mmsim::rt::block_dim())
#define gridDim (::mmsim::rt::grid_dim())
constexpr int warpSize = 32;

// ---- shared memory declarations (see mm_cuda.h for the nvcc side) ----
// One array per declaration per block, shared by the block's threads; the tag's address names it.
#define MM_SHARED_ALIGNED(T, name, n, a)                                                            \
  static const char name##_mm_tag_ = 0;                                                            \
  const ::mmsim::SharedPtr<T> name(                                                                 \
      ::mmsim::rt::static_region(&name##_mm_tag_, sizeof(T) * size_t(n), size_t(a), #name), 0)
#define MM_SHARED(T, name, n) MM_SHARED_ALIGNED(T, name, n, alignof(T))
#define MM_DYNAMIC_SHARED(T, name) const ::mmsim::SharedPtr<T> name(::mmsim::rt::dynamic_region(#name), 0)

// ---- barriers ----
inline void __syncthreads(mmsim::Loc loc = mmsim::Loc::current()) {
  mmsim::rt::barrier(mmsim::Site::at("__syncthreads", loc), 0, 0);
}
inline int __syncthreads_count(int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::rt::barrier(mmsim::Site::at("__syncthreads_count", loc), 1, pred != 0);
}
inline int __syncthreads_and(int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::rt::barrier(mmsim::Site::at("__syncthreads_and", loc), 2, pred != 0);
}
inline int __syncthreads_or(int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::rt::barrier(mmsim::Site::at("__syncthreads_or", loc), 3, pred != 0);
}
// Memory fences order nothing extra here: blocks run one at a time and threads switch only at
// synchronization points.
inline void __threadfence() {}
inline void __threadfence_block() {}

namespace mmsim {

// A warp collective whose result for each lane is computed from all participants' inputs.
// fn(const In* const in[32], Out* const out[32], unsigned participants); null for lanes not taking part.
template <class Out, class In, class Fn>
Out warp_collective(const char* what, unsigned mask, const In& in, const Loc& loc, const Fn& fn,
                    bool any_site = false) {
  static_assert(std::is_trivially_copyable_v<In> && std::is_trivially_copyable_v<Out>);
  Out out{};
  rt::warp_op(
      Site::at(what, loc), mask, &in, sizeof(In), &out, sizeof(Out),
      [](const void* f, const void* const* ins, void* const* outs, unsigned parts, int) {
        (*static_cast<const Fn*>(f))(reinterpret_cast<const In* const*>(ins), reinterpret_cast<Out* const*>(outs), parts);
      },
      &fn, any_site);
  return out;
}

// The source lane of a shuffle; returns -1 when the lane keeps its own value (CUDA's rules for width).
enum class Shfl { Idx, Up, Down, Xor };
inline int shfl_source(Shfl kind, int lane, int arg, int width) {
  const int base = lane & ~(width - 1);
  switch (kind) {
    case Shfl::Idx: return base + (arg & (width - 1));
    case Shfl::Up: return (lane - base) >= arg ? lane - arg : -1;
    case Shfl::Down: return (lane - base) + arg < width ? lane + arg : -1;
    case Shfl::Xor: {
      const int src = lane ^ arg;
      return src < base + width ? src : -1;
    }
  }
  return -1;
}

template <class T>
struct ShflIn {
  T var;
  int arg;  // each lane's own source lane, delta or lane mask
};

template <class T>
T shfl(Shfl kind, const char* what, unsigned mask, T var, int arg, int width, const Loc& loc) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>, "shuffle of a type larger than 16 bytes");
  if (width <= 0 || width > 32 || (width & (width - 1)))
    rt::fail(std::string(what) + ": width " + std::to_string(width) + " is not a power of two in 1..32");
  const ShflIn<T> in{var, arg};
  return warp_collective<T>(what, mask, in, loc, [kind, width, what](const ShflIn<T>* const* ins, T* const* out, unsigned parts) {
    for (int l = 0; l < 32; l++) {
      if (!(parts >> l & 1)) continue;
      int src = shfl_source(kind, l, ins[l]->arg, width);
      if (src < 0) src = l;
      if (src >= 32 || !(parts >> src & 1))
        rt::fail_as(-1, std::string(what) + ": lane " + std::to_string(l) + " reads lane " + std::to_string(src) +
                            ", which does not take part (not in mask, or exited)");
      *out[l] = ins[src]->var;
    }
  });
}

}  // namespace mmsim

// ---- warp shuffles, votes, reductions (CUDA's *_sync intrinsics) ----
template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::shfl(mmsim::Shfl::Idx, "__shfl_sync", mask, var, srcLane, width, loc);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::shfl(mmsim::Shfl::Up, "__shfl_up_sync", mask, var, int(delta), width, loc);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::shfl(mmsim::Shfl::Down, "__shfl_down_sync", mask, var, int(delta), width, loc);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::shfl(mmsim::Shfl::Xor, "__shfl_xor_sync", mask, var, laneMask, width, loc);
}

inline unsigned __ballot_sync(unsigned mask, int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_collective<unsigned>("__ballot_sync", mask, pred != 0, loc,
                                          [](const bool* const* in, unsigned* const* out, unsigned parts) {
                                            unsigned b = 0;
                                            for (int l = 0; l < 32; l++)
                                              if ((parts >> l & 1) && *in[l]) b |= 1u << l;
                                            for (int l = 0; l < 32; l++)
                                              if (parts >> l & 1) *out[l] = b;
                                          });
}
inline int __all_sync(unsigned mask, int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_collective<int>("__all_sync", mask, pred != 0, loc,
                                     [](const bool* const* in, int* const* out, unsigned parts) {
                                       int all = 1;
                                       for (int l = 0; l < 32; l++)
                                         if ((parts >> l & 1) && !*in[l]) all = 0;
                                       for (int l = 0; l < 32; l++)
                                         if (parts >> l & 1) *out[l] = all;
                                     });
}
inline int __any_sync(unsigned mask, int pred, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_collective<int>("__any_sync", mask, pred != 0, loc,
                                     [](const bool* const* in, int* const* out, unsigned parts) {
                                       int any = 0;
                                       for (int l = 0; l < 32; l++)
                                         if ((parts >> l & 1) && *in[l]) any = 1;
                                       for (int l = 0; l < 32; l++)
                                         if (parts >> l & 1) *out[l] = any;
                                     });
}
// Fibers have no notion of divergence: the active mask is every lane that exists and has not exited.
inline unsigned __activemask() { return mmsim::rt::live_lanes(); }

inline void __syncwarp(unsigned mask = 0xffffffffu, mmsim::Loc loc = mmsim::Loc::current()) {
  // PTX bar.warp.sync (sm_70+) lets lanes meet at different __syncwarp sites, so any site matches.
  mmsim::warp_collective<char>(
      "__syncwarp", mask, char(0), loc, [](const char* const*, char* const*, unsigned) {}, true);
}

namespace mmsim {
template <class T, class Op>
T warp_reduce(const char* what, unsigned mask, T v, const Loc& loc, Op op) {
  return warp_collective<T>(what, mask, v, loc, [op](const T* const* in, T* const* out, unsigned parts) {
    bool first = true;
    T acc{};
    for (int l = 0; l < 32; l++)
      if (parts >> l & 1) {
        acc = first ? *in[l] : op(acc, *in[l]);
        first = false;
      }
    for (int l = 0; l < 32; l++)
      if (parts >> l & 1) *out[l] = acc;
  });
}
}  // namespace mmsim
inline unsigned __reduce_add_sync(unsigned mask, unsigned v, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_reduce("__reduce_add_sync", mask, v, loc, [](unsigned a, unsigned b) { return a + b; });
}
inline int __reduce_add_sync(unsigned mask, int v, mmsim::Loc loc = mmsim::Loc::current()) {
  return int(__reduce_add_sync(mask, unsigned(v), loc));
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_reduce("__reduce_min_sync", mask, v, loc, [](unsigned a, unsigned b) { return a < b ? a : b; });
}
inline int __reduce_min_sync(unsigned mask, int v, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_reduce("__reduce_min_sync", mask, v, loc, [](int a, int b) { return a < b ? a : b; });
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_reduce("__reduce_max_sync", mask, v, loc, [](unsigned a, unsigned b) { return a > b ? a : b; });
}
inline int __reduce_max_sync(unsigned mask, int v, mmsim::Loc loc = mmsim::Loc::current()) {
  return mmsim::warp_reduce("__reduce_max_sync", mask, v, loc, [](int a, int b) { return a > b ? a : b; });
}

// ---- atomics: global (plain pointers; blocks run one at a time on one host thread, and threads
// switch only at synchronization points, so a read-modify-write is atomic) and shared (tracked) ----
namespace mmsim {
template <class T, class F>
T atomic_rmw(T* p, F&& f) {
  const T old = *p;
  *p = f(old);
  return old;
}
template <class T, class F>
T atomic_rmw(SharedPtr<T> p, F&& f) {
  if (!p.region()) rt::fail("atomic on a null shared-memory pointer");
  return p.region()->template atomic<T>(p.offset(), f);
}
template <class P>
struct Pointee {};
template <class T>
struct Pointee<T*> {
  using type = T;
};
template <class T>
struct Pointee<SharedPtr<T>> {
  using type = T;
};
template <class P>
using pointee_t = typename Pointee<std::remove_cv_t<P>>::type;
}  // namespace mmsim

#define MMSIM_ATOMIC(name, expr)                                                             \
  template <class P, class U>                                                                \
  mmsim::pointee_t<P> name(P p, U v) {                                                       \
    using E = mmsim::pointee_t<P>;                                                           \
    const E val = E(v);                                                                      \
    return mmsim::atomic_rmw(p, [val]([[maybe_unused]] E old) { return E(expr); });                         \
  }
MMSIM_ATOMIC(atomicAdd, old + val)
MMSIM_ATOMIC(atomicSub, old - val)
MMSIM_ATOMIC(atomicExch, val)
MMSIM_ATOMIC(atomicMax, old > val ? old : val)
MMSIM_ATOMIC(atomicMin, old < val ? old : val)
MMSIM_ATOMIC(atomicAnd, old & val)
MMSIM_ATOMIC(atomicOr, old | val)
MMSIM_ATOMIC(atomicXor, old ^ val)
#undef MMSIM_ATOMIC
template <class P, class U>
mmsim::pointee_t<P> atomicCAS(P p, U compare, U val) {
  using E = mmsim::pointee_t<P>;
  const E c = E(compare), v = E(val);
  return mmsim::atomic_rmw(p, [c, v](E old) { return old == c ? v : old; });
}
template <class P>
unsigned atomicInc(P p, unsigned limit) {
  return mmsim::atomic_rmw(p, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}

// ---- device math and integer intrinsics ----
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __exp2f(float x) { return std::exp2(x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline int __float2int_rn(float x) { return int(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline float __int2float_rn(int x) { return float(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(unsigned x) { return std::countl_zero(x); }
inline int __clzll(unsigned long long x) { return std::countl_zero(x); }
inline int __ffs(int x) { return x ? std::countr_zero(unsigned(x)) + 1 : 0; }
inline int __ffsll(long long x) { return x ? std::countr_zero((unsigned long long)x) + 1 : 0; }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((unsigned long long)a * b >> 32); }
inline int __mulhi(int a, int b) { return int((long long)a * b >> 32); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
// CUDA's device min/max overloads for the integer and float types.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
