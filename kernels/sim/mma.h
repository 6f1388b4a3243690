// Emulation of the warp-level matrix instructions: mma.sync, ldmatrix, cp.async. The lanes of a warp
// meet (a warp rendezvous), the fragments are gathered into whole matrices with the PTX layouts of
// kernels/include/mm_layouts.h, the product is formed, and each lane receives its fragment of D.
#pragma once

#include <bit>
#include <cstdint>
#include <string>

#include "../include/mm_layouts.h"
#include "sim.h"

namespace mmsim {

// Operand element decoders: raw bits of one element -> its value.
struct DecodeF16 {
  static double get(uint32_t raw) { return f16_bits_to_f32(uint16_t(raw)); }
};
struct DecodeBF16 {
  static double get(uint32_t raw) { return bf16_bits_to_f32(uint16_t(raw)); }
};
// .tf32 operands are read from 32-bit registers whose low 13 mantissa bits the tensor cores ignore
// (PTX 9.7.14.5 "mma": "the lower 13 bits are ignored"); kernels round with cvt.rna.tf32.f32 first.
struct DecodeTf32 {
  static double get(uint32_t raw) { return std::bit_cast<float>(raw & 0xffffe000u); }
};
struct DecodeS8 {
  static double get(uint32_t raw) { return int8_t(uint8_t(raw)); }
};
struct DecodeS4 {
  static double get(uint32_t raw) { return int((raw & 0xfu) ^ 8u) - 8; }
};

template <class Acc>
struct MmaIn {
  uint32_t a[4];
  uint32_t b[2];
  Acc c[4];
};
template <class Acc>
struct MmaOut {
  Acc d[4];
};

// Element i of a fragment packed kBits to an element into 32-bit registers, low bits first.
template <int kBits>
inline uint32_t fragment_element(const uint32_t* regs, int i) {
  constexpr int per = 32 / kBits;
  const uint32_t r = regs[i / per] >> ((i % per) * kBits);
  return kBits == 32 ? r : r & ((1u << (kBits % 32)) - 1u);
}

// D = A * B + C for one m16n8kK shape: L is the fragment layout, Dec decodes A/B elements, Acc is
// float (f32 accumulate: products summed in double, one rounding to float) or int (s32 accumulate,
// wrapping as mma without .satfinite does).
template <class L, class Dec, class Acc>
void mma_sync(const char* what, Acc (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const Acc (&c)[4],
              const Loc& loc) {
  MmaIn<Acc> in;
  for (int i = 0; i < 4; i++) in.a[i] = a[i], in.c[i] = c[i];
  for (int i = 0; i < 2; i++) in.b[i] = b[i];
  const auto out = warp_collective<MmaOut<Acc>>(
      what, 0xffffffffu, in, loc, [what](const MmaIn<Acc>* const* ins, MmaOut<Acc>* const* outs, unsigned parts) {
        if (parts != 0xffffffffu)
          rt::fail(std::string(what) + ": all 32 lanes of the warp must execute it; participating lanes 0x" +
                   [&] {
                     char buf[16];
                     std::snprintf(buf, sizeof buf, "%08x", parts);
                     return std::string(buf);
                   }());
        double A[L::M][L::K], B[L::K][L::N];
        for (int lane = 0; lane < 32; lane++) {
          for (int i = 0; i < L::kAElems; i++)
            A[L::a_row(lane, i)][L::a_col(lane, i)] = Dec::get(fragment_element<L::kBits>(ins[lane]->a, i));
          for (int i = 0; i < L::kBElems; i++)
            B[L::b_row(lane, i)][L::b_col(lane, i)] = Dec::get(fragment_element<L::kBits>(ins[lane]->b, i));
        }
        using C = mm::layout::AccM16N8;
        for (int lane = 0; lane < 32; lane++)
          for (int i = 0; i < C::kElems; i++) {
            const int m = C::row(lane, i), n = C::col(lane, i);
            if constexpr (std::is_floating_point_v<Acc>) {
              double s = ins[lane]->c[i];
              for (int k = 0; k < L::K; k++) s += A[m][k] * B[k][n];
              outs[lane]->d[i] = Acc(s);
            } else {
              int64_t s = 0;
              for (int k = 0; k < L::K; k++) s += int64_t(A[m][k]) * int64_t(B[k][n]);
              outs[lane]->d[i] = Acc(uint32_t(ins[lane]->c[i]) + uint32_t(s));
            }
          }
      });
  for (int i = 0; i < 4; i++) d[i] = out.d[i];
}

// ldmatrix.sync.aligned.m8n8.x{count}[.trans].shared.b16 (layout: mm::layout::LdMatrix).
struct LdmIn {
  Region* r;
  int64_t off;
};
struct LdmOut {
  uint32_t d[4];
};
template <class T>
void ldmatrix(int count, bool trans, uint32_t* d, SharedPtr<T> p, const Loc& loc) {
  const char* what = count == 1 ? (trans ? "ldmatrix.x1.trans" : "ldmatrix.x1")
                     : count == 2 ? (trans ? "ldmatrix.x2.trans" : "ldmatrix.x2")
                                  : (trans ? "ldmatrix.x4.trans" : "ldmatrix.x4");
  const LdmIn in{p.region(), p.offset()};
  const auto out = warp_collective<LdmOut>(
      what, 0xffffffffu, in, loc, [count, trans, what](const LdmIn* const* ins, LdmOut* const* outs, unsigned parts) {
        using L = mm::layout::LdMatrix;
        const int base = rt::linear_tid() - rt::lane();
        uint16_t M[4][8][8];
        for (int j = 0; j < count; j++)
          for (int row = 0; row < 8; row++) {
            const int src = L::address_lane(j, row);
            if (!(parts >> src & 1))
              rt::fail(std::string(what) + ": lane " + std::to_string(src) + " supplies a row address but has exited");
            if (!ins[src]->r)
              rt::fail_as(base + src, std::string(what) + ": row address is not in shared memory");
            // Each row is 16 contiguous bytes, 16-byte aligned; the lane that supplied it reads it.
            ins[src]->r->check(ins[src]->off, 16, 16, Access::Read, base + src);
            std::memcpy(M[j][row], ins[src]->r->data() + ins[src]->off, 16);
          }
        for (int lane = 0; lane < 32; lane++) {
          if (!(parts >> lane & 1)) continue;
          for (int j = 0; j < count; j++) {
            const uint32_t lo = M[j][L::row(lane, 0, trans)][L::col(lane, 0, trans)];
            const uint32_t hi = M[j][L::row(lane, 1, trans)][L::col(lane, 1, trans)];
            outs[lane]->d[j] = lo | hi << 16;
          }
        }
      });
  for (int j = 0; j < count; j++) d[j] = out.d[j];
}

// cp.async.{ca,cg}.shared.global: bytes copied from global src into shared dst when the group
// completes (cp.async.wait_group / wait_all); src_bytes < bytes zero-fills the rest (the src-size operand).
template <class T>
void cp_async(SharedPtr<T> dst, const void* src, int bytes, int src_bytes, const char* what) {
  rt::async_copy(dst.region(), dst.offset(), src, bytes, src_bytes, what);
}

// cvt.rna.tf32.f32: round to nearest, ties away from zero, to 10 explicit mantissa bits.
inline uint32_t to_tf32(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffffffu;  // NaN: the canonical NaN
  if ((u & 0x7f800000u) != 0x7f800000u) u += 0x1000u;
  return u & 0xffffe000u;
}

}  // namespace mmsim
