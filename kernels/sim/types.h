// CUDA's value types on the CPU: dim3/uint3, vector types, __half and __nv_bfloat16.
// Bit-exact conversions (round to nearest even), so kernels round like the GPU does.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

// ---- index types (CUDA's vector_types.h) ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

// ---- vector types: same sizes and alignments as CUDA's, so misaligned vector access is a fault ----
#define MMSIM_VEC2(T, N, A)                                 \
  struct alignas(A) N {                                     \
    T x, y;                                                 \
  };                                                        \
  inline constexpr N make_##N(T x, T y) { return N{x, y}; }
#define MMSIM_VEC4(T, N, A)                                             \
  struct alignas(A) N {                                                 \
    T x, y, z, w;                                                       \
  };                                                                    \
  inline constexpr N make_##N(T x, T y, T z, T w) { return N{x, y, z, w}; }
MMSIM_VEC2(float, float2, 8)
MMSIM_VEC4(float, float4, 16)
MMSIM_VEC2(int, int2, 8)
MMSIM_VEC4(int, int4, 16)
MMSIM_VEC2(unsigned, uint2, 8)
MMSIM_VEC4(unsigned, uint4, 16)
MMSIM_VEC4(signed char, char4, 4)
MMSIM_VEC4(unsigned char, uchar4, 4)
MMSIM_VEC2(double, double2, 16)
MMSIM_VEC2(long long, longlong2, 16)
#undef MMSIM_VEC2
#undef MMSIM_VEC4

namespace mmsim {

// IEEE binary16 from binary32, round to nearest even (subnormals, overflow to inf, NaN kept quiet).
inline uint16_t f32_to_f16_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf
  uint32_t r, rem, half;
  if (a < 0x38800000u) {  // below 2^-14: a half subnormal, in units of 2^-24
    const int e = int(a >> 23);
    const int shift = 126 - e;
    if (shift > 24) return uint16_t(sign);
    const uint32_t m = (a & 0x7fffffu) | (e ? 0x800000u : 0);
    r = m >> shift;
    rem = m & ((1u << shift) - 1);
    half = 1u << (shift - 1);
  } else {
    r = ((a >> 23) - 112) << 10 | ((a >> 13) & 0x3ffu);
    rem = a & 0x1fffu;
    half = 0x1000u;
  }
  if (rem > half || (rem == half && (r & 1))) r++;
  return uint16_t(sign | r);
}

inline float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = std::ldexp(float(m), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}

// bfloat16 is the upper half of binary32; round to nearest even, NaN kept quiet.
inline uint16_t f32_to_bf16_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
inline float bf16_bits_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

}  // namespace mmsim

// ---- half types (cuda_fp16.h / cuda_bf16.h subset) ----
struct alignas(2) __half {
  uint16_t bits_;
  __half() = default;
  __half(float f) : bits_(mmsim::f32_to_f16_bits(f)) {}
  __half(double f) : __half(float(f)) {}
  __half(int v) : __half(float(v)) {}
  operator float() const { return mmsim::f16_bits_to_f32(bits_); }
};
struct alignas(2) __nv_bfloat16 {
  uint16_t bits_;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : bits_(mmsim::f32_to_bf16_bits(f)) {}
  __nv_bfloat16(double f) : __nv_bfloat16(float(f)) {}
  __nv_bfloat16(int v) : __nv_bfloat16(float(v)) {}
  operator float() const { return mmsim::bf16_bits_to_f32(bits_); }
};
struct alignas(4) __half2 {
  __half x, y;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return float(h); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline unsigned short __half_as_ushort(__half h) { return h.bits_; }
inline __half __ushort_as_half(unsigned short u) {
  __half h;
  h.bits_ = u;
  return h;
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.bits_; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) {
  __nv_bfloat16 b;
  b.bits_ = u;
  return b;
}
inline __half2 __floats2half2_rn(float lo, float hi) { return {__half(lo), __half(hi)}; }
inline __half2 __halves2half2(__half lo, __half hi) { return {lo, hi}; }
inline float2 __half22float2(__half2 h) { return {float(h.x), float(h.y)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__nv_bfloat16(lo), __nv_bfloat16(hi)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 b) { return {float(b.x), float(b.y)}; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half __hadd(__half a, __half b) { return __half(float(a) + float(b)); }
inline __half __hsub(__half a, __half b) { return __half(float(a) - float(b)); }
inline __half __hmul(__half a, __half b) { return __half(float(a) * float(b)); }
