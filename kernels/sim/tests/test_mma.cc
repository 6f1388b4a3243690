// The warp-level matrix instructions: every mma.sync shape and type against a scalar product, with
// fragments loaded by formulas transcribed here from the PTX ISA independently of mm_layouts.h (so a
// wrong layout in either place shows); ldmatrix x1/x2/x4 with and without .trans; the planted wrong
// fragment index; and the number conversions the operands go through.
#include <bit>

#include "../../include/mm_cuda.h"
#include "check.h"
#include "wrappers_nvcc.cu"

using simtest::Buf;

namespace {

enum class Ty { F16, BF16, TF32, S8, S4 };
struct Shape {
  Ty ty;
  int K;
  const char* name;
};
constexpr Shape kShapes[] = {{Ty::F16, 16, "m16n8k16.f16"},
                             {Ty::BF16, 16, "m16n8k16.bf16"},
                             {Ty::TF32, 8, "m16n8k8.tf32"},
                             {Ty::S8, 32, "m16n8k32.s8"},
                             {Ty::S4, 64, "m16n8k64.s4"}};

// An operand value exactly representable in the type (never zero).
float operand(Ty ty) {
  switch (ty) {
    case Ty::F16: return float(__half(simtest::uniform(-2, 2)));
    case Ty::BF16: return float(__nv_bfloat16(simtest::uniform(-2, 2)));
    case Ty::TF32: return std::bit_cast<float>(mm::to_tf32(simtest::uniform(-2, 2)));
    case Ty::S8: return float(simtest::uniform_int(-128, 127));
    case Ty::S4: return float(simtest::uniform_int(-8, 7));
  }
  return 0;
}

// Register r of A or B for lane `lane`, from row-major A (16 x K) or B (K x 8, B[k][n] at k*8+n).
// PTX 9.7.14.5.7-11, written per register: g = groupID, t = threadID_in_group.
uint32_t a_reg(Ty ty, const float* A, int K, int lane, int r) {
  const int g = lane >> 2, t = lane & 3;
  const int row = g + 8 * (r & 1);  // registers alternate rows g and g+8 ...
  const int half = (r >> 1);        // ... and the second pair covers the upper half of K
  switch (ty) {
    case Ty::F16:
    case Ty::BF16: {
      const int c = 2 * t + 8 * half;
      return ty == Ty::F16 ? mm::pack_half2(A[row * K + c], A[row * K + c + 1])
                           : mm::pack_bf162(A[row * K + c], A[row * K + c + 1]);
    }
    case Ty::TF32: return std::bit_cast<uint32_t>(A[row * K + t + 4 * half]);
    case Ty::S8: {
      const int c = 4 * t + 16 * half;
      return mm::pack_s8x4(int(A[row * K + c]), int(A[row * K + c + 1]), int(A[row * K + c + 2]), int(A[row * K + c + 3]));
    }
    case Ty::S4: {
      const int c = 8 * t + 32 * half;
      int v[8];
      for (int i = 0; i < 8; i++) v[i] = int(A[row * K + c + i]);
      return mm::pack_s4x8(v);
    }
  }
  return 0;
}
uint32_t b_reg(Ty ty, const float* B, int lane, int r) {
  const int g = lane >> 2, t = lane & 3;
  auto b = [&](int k) { return B[k * 8 + g]; };
  switch (ty) {
    case Ty::F16: return mm::pack_half2(b(2 * t + 8 * r), b(2 * t + 8 * r + 1));
    case Ty::BF16: return mm::pack_bf162(b(2 * t + 8 * r), b(2 * t + 8 * r + 1));
    case Ty::TF32: return std::bit_cast<uint32_t>(b(t + 4 * r));
    case Ty::S8: {
      const int k = 4 * t + 16 * r;
      return mm::pack_s8x4(int(b(k)), int(b(k + 1)), int(b(k + 2)), int(b(k + 3)));
    }
    case Ty::S4: {
      int v[8];
      for (int i = 0; i < 8; i++) v[i] = int(b(8 * t + 32 * r + i));
      return mm::pack_s4x8(v);
    }
  }
  return 0;
}
// Accumulator element i of lane: row g (+8 for i >= 2), column 2t + (i & 1).
int c_index(int lane, int i) { return ((lane >> 2) + 8 * (i >> 1)) * 8 + 2 * (lane & 3) + (i & 1); }

__global__ void k_mma(Ty ty, int K, const float* A, const float* B, const float* C, float* D, bool swap_a12) {
  const int lane = threadIdx.x;
  uint32_t a[4], b[2];
  for (int r = 0; r < 4; r++) a[r] = a_reg(ty, A, K, lane, r);
  for (int r = 0; r < 2; r++) b[r] = b_reg(ty, B, lane, r);
  if (swap_a12) std::swap(a[1], a[2]);  // PLANTED FAULT: a wrong fragment index
  if (ty == Ty::S8 || ty == Ty::S4) {
    int c[4], d[4];
    for (int i = 0; i < 4; i++) c[i] = int(C[c_index(lane, i)]);
    if (ty == Ty::S8)
      mm::mma_m16n8k32_s8(d, a, b, c);
    else
      mm::mma_m16n8k64_s4(d, a, b, c);
    for (int i = 0; i < 4; i++) D[c_index(lane, i)] = float(d[i]);
  } else {
    float c[4], d[4];
    for (int i = 0; i < 4; i++) c[i] = C[c_index(lane, i)];
    if (ty == Ty::F16) mm::mma_m16n8k16_f16(d, a, b, c);
    if (ty == Ty::BF16) mm::mma_m16n8k16_bf16(d, a, b, c);
    if (ty == Ty::TF32) mm::mma_m16n8k8_tf32(d, a, b, c);
    for (int i = 0; i < 4; i++) D[c_index(lane, i)] = d[i];
  }
}

// Largest error of D against the scalar product, relative to the magnitude of the terms.
double mma_error(const Shape& s, bool swap_a12) {
  Buf<float> A(16 * s.K), B(s.K * 8), C(16 * 8), D(16 * 8);
  for (size_t i = 0; i < A.n; i++) A[i] = operand(s.ty);
  for (size_t i = 0; i < B.n; i++) B[i] = operand(s.ty);
  const bool integer = s.ty == Ty::S8 || s.ty == Ty::S4;
  for (size_t i = 0; i < C.n; i++) C[i] = integer ? float(simtest::uniform_int(-1000, 1000)) : simtest::uniform(-4, 4);
  D.fill(NAN);
  EXPECT_OK(mmsim::launch("k_mma", 1, 32, 0, [&] { k_mma(s.ty, s.K, A.p, B.p, C.p, D.p, swap_a12); }));
  double worst = 0;
  for (int m = 0; m < 16; m++)
    for (int n = 0; n < 8; n++) {
      double ref = C[m * 8 + n], mag = std::fabs(ref);
      for (int k = 0; k < s.K; k++) {
        ref += double(A[m * s.K + k]) * double(B[k * 8 + n]);
        mag += std::fabs(double(A[m * s.K + k]) * double(B[k * 8 + n]));
      }
      const double err = std::fabs(double(D[m * 8 + n]) - ref) / mag;
      worst = std::isnan(err) ? INFINITY : std::max(worst, err);
    }
  return worst;
}

TEST(mma_matches_scalar_product_for_every_shape) {
  for (const Shape& s : kShapes) {
    const bool integer = s.ty == Ty::S8 || s.ty == Ty::S4;
    for (int rep = 0; rep < 3; rep++) {
      const double err = mma_error(s, false);
      // f32 accumulation of exact products: one rounding; s32: exact.
      CHECK_MSG(integer ? err == 0 : err < 1e-6, std::string(s.name) + " error " + simtest::str(err));
    }
  }
}

TEST(planted_wrong_fragment_index_gives_wrong_product) {
  for (const Shape& s : kShapes) {
    const double err = mma_error(s, true);
    CHECK_MSG(err > 1e-2, std::string(s.name) + ": swapping fragment registers a1/a2 went unnoticed, error " +
                              simtest::str(err));
  }
}

__global__ void k_mma_divergent(float* out) {
  const int lane = threadIdx.x;
  const uint32_t a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
  const float c[4] = {0, 0, 0, 0};
  float d[4] = {};
  if (lane < 16) mm::mma_m16n8k16_f16(d, a, b, c);
  out[lane] = d[0];
}

TEST(mma_needs_the_whole_warp) {
  Buf<float> out(32);
  EXPECT_FAULT(mmsim::launch("k_mma_divergent", 1, 32, 0, [&] { k_mma_divergent(out.p); }),
               "mma.m16n8k16.f16: all 32 lanes of the warp must execute it", "0x0000ffff");
}

// ldmatrix: a 16 x 16 tile of halves whose values name their position.
float tile_value(int r, int c) { return float(r * 16 + c); }

__global__ void k_ldmatrix(uint32_t* out, int variant, int misalign) {
  MM_SHARED_ALIGNED(__half, tile, 16 * 16, 16);
  const int l = threadIdx.x;
  for (int i = 0; i < 8; i++) {
    const int e = l * 8 + i;
    tile[e] = __half(tile_value(e / 16, e % 16));
  }
  __syncthreads();
  // Matrix j of x4 has origin (8 * (j % 2), 8 * (j / 2)); x2 uses j = 0, 2 (rows 0-7, both column halves).
  const int j = l / 8, r = l % 8;
  const int r0 = variant % 3 == 1 ? 0 : 8 * (j % 2), c0 = variant % 3 == 1 ? 8 * (j % 2) : 8 * (j / 2);
  const auto p = &tile[(r0 + r) * 16 + c0 + misalign];
  uint32_t d[4] = {0, 0, 0, 0};
  switch (variant) {
    case 0: {
      uint32_t x[1];
      mm::ldmatrix_x1(x, p);
      d[0] = x[0];
      break;
    }
    case 1: {
      uint32_t x[2];
      mm::ldmatrix_x2(x, p);
      d[0] = x[0], d[1] = x[1];
      break;
    }
    case 2: mm::ldmatrix_x4(d, p); break;
    case 3: {
      uint32_t x[1];
      mm::ldmatrix_x1_trans(x, p);
      d[0] = x[0];
      break;
    }
    case 4: {
      uint32_t x[2];
      mm::ldmatrix_x2_trans(x, p);
      d[0] = x[0], d[1] = x[1];
      break;
    }
    case 5: mm::ldmatrix_x4_trans(d, p); break;
  }
  for (int i = 0; i < 4; i++) out[l * 4 + i] = d[i];
}

TEST(ldmatrix_every_variant) {
  Buf<uint32_t> out(32 * 4);
  for (int variant = 0; variant < 6; variant++) {
    const int count = variant % 3 == 0 ? 1 : variant % 3 == 1 ? 2 : 4;
    const bool trans = variant >= 3;
    out.fill(0);
    EXPECT_OK(mmsim::launch("k_ldmatrix", 1, 32, 0, [&] { k_ldmatrix(out.p, variant, 0); }));
    for (int l = 0; l < 32; l++)
      for (int m = 0; m < count; m++) {
        const int r0 = count == 2 ? 0 : 8 * (m % 2), c0 = count == 2 ? 8 * m : 8 * (m / 2);
        // PTX 9.7.14.5.15: lane l holds row l/4, columns 2(l%4) and 2(l%4)+1 of matrix m (transposed:
        // rows 2(l%4) and 2(l%4)+1 of column l/4).
        const int ra = trans ? 2 * (l % 4) : l / 4, ca = trans ? l / 4 : 2 * (l % 4);
        const int rb = trans ? ra + 1 : ra, cb = trans ? ca : ca + 1;
        const uint32_t want = mm::pack_half2(tile_value(r0 + ra, c0 + ca), tile_value(r0 + rb, c0 + cb));
        CHECK_MSG(out[l * 4 + m] == want, "variant " + std::to_string(variant) + " lane " + std::to_string(l) +
                                              " matrix " + std::to_string(m));
      }
  }
  EXPECT_FAULT(mmsim::launch("k_ldmatrix", 1, 32, 0, [&] { k_ldmatrix(out.p, 2, 1); }),
               "misaligned 16-byte read of shared 'tile'", "address % 16 = 2");
}

// The usual pipeline: A (16 x 16, row-major) by ldmatrix.x4, B (16 x 8, row-major) by
// ldmatrix.x2.trans, then mma.m16n8k16.
__global__ void k_ldmatrix_mma(const float* A, const float* B, float* D) {
  MM_SHARED_ALIGNED(__half, as, 16 * 16, 16);
  MM_SHARED_ALIGNED(__half, bs, 16 * 8, 16);
  const int l = threadIdx.x;
  const auto a_tile = mm::mat(as, 16), b_tile = mm::mat(bs, 8);
  for (int i = l; i < 256; i += 32) a_tile(i / 16, i % 16) = __half(A[i]);
  for (int i = l; i < 128; i += 32) b_tile(i / 8, i % 8) = __half(B[i]);
  __syncthreads();
  uint32_t a[4], b[2];
  mm::ldmatrix_x4(a, &as[(l % 16) * 16 + 8 * (l / 16)]);
  mm::ldmatrix_x2_trans(b, &bs[(l % 16) * 8]);
  const float c[4] = {0, 0, 0, 0};
  float d[4];
  mm::mma_m16n8k16_f16(d, a, b, c);
  using Acc = mm::layout::AccM16N8;
  for (int i = 0; i < 4; i++) D[Acc::row(l, i) * 8 + Acc::col(l, i)] = d[i];
}

TEST(ldmatrix_feeds_mma) {
  Buf<float> A(256), B(128), D(128);
  for (int i = 0; i < 256; i++) A[i] = operand(Ty::F16);
  for (int i = 0; i < 128; i++) B[i] = operand(Ty::F16);
  D.fill(NAN);
  EXPECT_OK(mmsim::launch("k_ldmatrix_mma", 1, 32, 0, [&] { k_ldmatrix_mma(A.p, B.p, D.p); }));
  for (int m = 0; m < 16; m++)
    for (int n = 0; n < 8; n++) {
      double ref = 0, mag = 0;
      for (int k = 0; k < 16; k++) ref += double(A[m * 16 + k]) * B[k * 8 + n], mag += std::fabs(double(A[m * 16 + k]) * B[k * 8 + n]);
      CHECK(std::fabs(D[m * 8 + n] - ref) <= 1e-6 * mag);
    }
}

TEST(every_wrapper_runs_in_one_kernel) {
  Buf<float> gf(128), out(160);
  Buf<__half> gh(256);
  Buf<int> iout(32);
  for (int i = 0; i < 128; i++) gf[i] = simtest::uniform(-1, 1);
  for (int i = 0; i < 256; i++) gh[i] = __half(simtest::uniform(-1, 1));
  out.fill(NAN);
  EXPECT_OK(mmsim::launch("mm_wrappers_check", 1, 32, 512, [&] { mm_wrappers_check(gf.p, gh.p, out.p, iout.p); }));
  for (int i = 0; i < 128; i++) CHECK(out[i] == gf[i]);
  for (int i = 128; i < 160; i++) CHECK(std::isfinite(out[i]));
}

TEST(misaligned_vector_loads_fault) {
  Buf<float> g(64), out(64);
  for (int i = 0; i < 64; i++) g[i] = float(i);
  auto k = [&](int kind) {
    return [&, kind] {
      MM_SHARED(float, s4, 64);                  // only 4-byte aligned
      MM_SHARED_ALIGNED(float, s16, 64, 16);
      const int t = threadIdx.x;
      for (int i = 0; i < 4; i++) s4[4 * t + i] = s16[4 * t + i] = float(4 * t + i);
      __syncthreads();
      float4 v{};
      if (kind == 0) v = mm::load_float4(g.p + 4 * t);
      if (kind == 1) v = mm::load_float4(g.p + 4 * t + 1);  // PLANTED FAULT: misaligned float4 load
      if (kind == 2) v = mm::load_vec<float4>(s16 + 4 * (t % 16));
      if (kind == 3) v = mm::load_vec<float4>(s4);
      if (kind == 4) mm::store_vec(out.p + 2, v);
      if (kind == 5) v = mm::smem_cast<const float4>(s16)[t % 16];
      out[t] = v.x;
    };
  };
  EXPECT_OK(mmsim::launch("vec", 1, 16, 0, k(0)));
  for (int t = 0; t < 16; t++) CHECK(out[t] == float(4 * t));
  EXPECT_FAULT(mmsim::launch("vec", 1, 16, 0, k(1)), "kernel vec block (0,0,0) thread (0,0,0)",
               "misaligned 16-byte vector load from global address", "(address % 16 = 4)", "test_mma.cc");
  for (int kind : {2, 5}) {
    EXPECT_OK(mmsim::launch("vec", 1, 16, 0, k(kind)));
    for (int t = 0; t < 16; t++) CHECK(out[t] == float(4 * (t % 16)));
  }
  EXPECT_FAULT(mmsim::launch("vec", 1, 16, 0, k(3)), "misaligned 16-byte read of shared 's4'", "address % 16 = 4");
  EXPECT_FAULT(mmsim::launch("vec", 1, 16, 0, k(4)), "misaligned 16-byte vector store", "address % 16 = 8");
}

TEST(half_and_bfloat16_conversions_round_to_nearest_even) {
  // Against the compiler's _Float16 over all binary16 ranges: normals, subnormals, overflow, ties.
  for (int i = 0; i < 200000; i++) {
    const float f = std::ldexp(simtest::uniform(-1, 1), int(simtest::rng()() % 48) - 30);
    const _Float16 want = static_cast<_Float16>(f);
    CHECK_MSG(std::bit_cast<uint16_t>(want) == __half_as_ushort(__half(f)), simtest::str(f));
    CHECK(float(__half(f)) == float(want));
  }
  for (uint32_t h = 0; h < 0x10000; h++) {  // every half converts to float exactly and back
    const _Float16 x = std::bit_cast<_Float16>(uint16_t(h));
    const float f = mmsim::f16_bits_to_f32(uint16_t(h));
    if (std::isnan(float(x))) {
      CHECK(std::isnan(f));
      continue;
    }
    CHECK(f == float(x));
    CHECK(mmsim::f32_to_f16_bits(f) == h);
  }
  CHECK(__half_as_ushort(__half(65520.0f)) == 0x7c00);  // rounds to infinity
  CHECK(__half_as_ushort(__half(65519.0f)) == 0x7bff);
  CHECK(__bfloat16_as_ushort(__nv_bfloat16(1.0f)) == 0x3f80);
  CHECK(__bfloat16_as_ushort(__nv_bfloat16(std::bit_cast<float>(0x3f808000u))) == 0x3f80);  // tie to even
  CHECK(__bfloat16_as_ushort(__nv_bfloat16(std::bit_cast<float>(0x3f818000u))) == 0x3f82);
  CHECK(__bfloat16_as_ushort(__nv_bfloat16(std::bit_cast<float>(0x3f808001u))) == 0x3f81);
  CHECK(std::isnan(float(__nv_bfloat16(NAN))));
  // cvt.rna.tf32.f32 rounds ties away from zero.
  CHECK(mm::to_tf32(std::bit_cast<float>(0x3f801000u)) == 0x3f802000u);
  CHECK(mm::to_tf32(std::bit_cast<float>(0xbf801000u)) == 0xbf802000u);
  CHECK(mm::to_tf32(std::bit_cast<float>(0x3f800fffu)) == 0x3f800000u);
  CHECK(std::isnan(std::bit_cast<float>(mm::to_tf32(NAN))));
}

}  // namespace
