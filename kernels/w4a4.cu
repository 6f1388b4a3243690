// W4A4 mixed-precision GEMM (COMET's fine-grained mixed precision, Liu et al. 2024, arXiv:2410.12168;
// semantics pinned in /work/shared/spec/workloads.md "W4A4"):
//   y[m, n] = sum_g sa[m, g] * sw[n, g] * I[m, n, g],   I[m, n, g] = sum_{k in g} qa[m, k] * qw[n, k]
// with every group sum I exact in int32 and the scaled groups added in float32.
//
// Operands, as cuda/backend/w4a4_pack.go lays them out: K is cut into steps of 32 bytes per row. A
// 4-bit group takes ceil(len/64) steps of packed int4 codes (64 codes, the even k in the low nibble),
// an 8-bit group ceil(len/32) steps of int8 codes (32 codes); a group's last step is zero-padded, and
// zero codes add nothing to I. The weights follow the activations' steps: int4 in 4-bit groups and,
// in 8-bit groups, the int4 codes widened to int8 (COMET's W4A8 path), so both operands of a step
// have the same width.
//   a     (M, S*32) bytes, w (N, S*32) bytes, row-major (S steps; every row 16-byte aligned)
//   info  int32[S]: step t belongs to group info[t] >> 2, is 8-bit when info[t] & 1, and is the
//         group's last step when info[t] & 2 (the group sums are scaled and cleared there)
//   sa    float32 (M, G), sw float32 (N, G), y float32 (M, N)
//
// The fragments of mma.m16n8k32.s8 and mma.m16n8k64.s4 put the same bytes in the same registers
// (mm_layouts.h: 4 bytes at (lane % 4) * 4 + 16 j of the 32-byte row), so one ldmatrix load serves
// both: a step's tiles are staged once and multiplied with the instruction of its group's width.
//
// w4a4_gemm_m<BM> launch contract:
//   grid  (ceil(M / BM), ceil(N / 64), 1); block (128, 1, 1); no dynamic shared memory
//   M, N >= 1; S, G >= 0. Tiles of BM rows x 64 columns x 4 steps (128 bytes), double buffered with
//   16-byte cp.async (zero-filled past M, N and S); m64: 2 x 2 warps of 32 x 32, m16: 1 x 4 warps of
//   16 x 16.
#include "include/mm_cuda.h"

namespace w4a4 {

constexpr int kSteps = 4;                  // steps per stage
constexpr int kStepBytes = 32;             // bytes per row per step (one mma depth)
constexpr int kRowBytes = kSteps * kStepBytes;
constexpr int kLd = kRowBytes + 16;        // 16 bytes of padding: the 8 rows of an ldmatrix hit distinct banks
constexpr int kBN = 64;
constexpr int kThreads = 128;

// stage_rows copies rows [r0, r0 + R) x steps [s0, s0 + kSteps) of src (ld bytes a row, rows valid
// below nrows, steps below S) into dst with cp.async, zero-filling what lies outside.
template <int R>
MM_DEVICE void stage_rows(mm::smem_ptr<unsigned char> dst, const unsigned char* src, long long ld, int r0, int nrows,
                          int s0, int S) {
  constexpr int kChunks = R * kRowBytes / 16;
  for (int i = threadIdx.x; i < kChunks; i += kThreads) {
    const int r = i / (kRowBytes / 16), c = i % (kRowBytes / 16);
    const int step = s0 + c / 2;
    const bool ok = r0 + r < nrows && step < S;
    const unsigned char* p = ok ? src + (long long)(r0 + r) * ld + (long long)step * kStepBytes + (c & 1) * 16 : src;
    mm::cp_async_16_zfill<unsigned char>(dst + r * kLd + c * 16, p, ok);
  }
}

template <int BM, int WM, int WN>
MM_DEVICE void gemm(const unsigned char* a, const unsigned char* w, const int* info, const float* sa, const float* sw,
                    float* y, int M, int N, int S, int G) {
  constexpr int MT = WM / 16, NT = WN / 8, WARPS_N = kBN / WN;
  static_assert((BM / WM) * WARPS_N * 32 == kThreads, "the warps tile the block");
  static_assert(NT % 2 == 0, "B fragments are loaded two n-tiles at a time");
  MM_SHARED_ALIGNED(unsigned char, sA, 2 * BM * kLd, 16);
  MM_SHARED_ALIGNED(unsigned char, sB, 2 * kBN * kLd, 16);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * kBN;
  const int wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
  // Warp-uniform: a warp whose rows or columns all lie past the matrix only stages.
  const bool busy = m0 + wm0 < M && n0 + wn0 < N;
  const long long ld = (long long)S * kStepBytes;
  const int stages = (S + kSteps - 1) / kSteps;

  auto issue = [&](int t, int buf) {
    stage_rows<BM>(sA + buf * BM * kLd, a, ld, m0, M, t * kSteps, S);
    stage_rows<kBN>(sB + buf * kBN * kLd, w, ld, n0, N, t * kSteps, S);
    mm::cp_async_commit();
  };

  float acc[MT][NT][4] = {};
  int isum[MT][NT][4] = {};
  if (stages > 0) issue(0, 0);
  for (int t = 0; t < stages; t++) {
    if (t + 1 < stages) {
      issue(t + 1, (t + 1) & 1);
      mm::cp_async_wait<1>();
    } else {
      mm::cp_async_wait<0>();
    }
    __syncthreads();
    const int buf = t & 1;
    const int nsteps = min(kSteps, S - t * kSteps);
    for (int s = 0; s < nsteps && busy; s++) {
      const int inf = info[t * kSteps + s];
      uint32_t fa[MT][4], fb[NT][2];
      for (int mt = 0; mt < MT; mt++)
        mm::ldmatrix_x4<unsigned char>(fa[mt], sA + buf * BM * kLd + (wm0 + 16 * mt + (lane & 15)) * kLd +
                                                    s * kStepBytes + (lane >> 4) * 16);
      for (int nt = 0; nt < NT; nt += 2) {
        // Matrices: n-tile nt bytes 0-15, 16-31, then n-tile nt + 1 the same (lanes 0-7, ..., 24-31).
        uint32_t r[4];
        mm::ldmatrix_x4<unsigned char>(r, sB + buf * kBN * kLd + (wn0 + 8 * (nt + (lane >> 4)) + (lane & 7)) * kLd +
                                              s * kStepBytes + ((lane >> 3) & 1) * 16);
        fb[nt][0] = r[0];
        fb[nt][1] = r[1];
        fb[nt + 1][0] = r[2];
        fb[nt + 1][1] = r[3];
      }
      for (int mt = 0; mt < MT; mt++)
        for (int nt = 0; nt < NT; nt++) {
          if (inf & 1)
            mm::mma_m16n8k32_s8(isum[mt][nt], fa[mt], fb[nt], isum[mt][nt]);
          else
            mm::mma_m16n8k64_s4(isum[mt][nt], fa[mt], fb[nt], isum[mt][nt]);
        }
      if (inf & 2) {
        // The group is complete: scale its exact sums into the float32 accumulators.
        const int g = inf >> 2;
        float ra[MT][2], cb[NT][2];
        for (int mt = 0; mt < MT; mt++)
          for (int h = 0; h < 2; h++)
            ra[mt][h] = sa[(long long)min(m0 + wm0 + 16 * mt + (lane >> 2) + 8 * h, M - 1) * G + g];
        for (int nt = 0; nt < NT; nt++)
          for (int h = 0; h < 2; h++)
            cb[nt][h] = sw[(long long)min(n0 + wn0 + 8 * nt + (lane & 3) * 2 + h, N - 1) * G + g];
        for (int mt = 0; mt < MT; mt++)
          for (int nt = 0; nt < NT; nt++)
            for (int i = 0; i < 4; i++) {
              acc[mt][nt][i] += ra[mt][i >> 1] * cb[nt][i & 1] * float(isum[mt][nt][i]);
              isum[mt][nt][i] = 0;
            }
      }
    }
    __syncthreads();  // buffer buf is read; stage t + 2 may refill it
  }
  if (!busy) return;
  mm::for_acc(acc, m0 + wm0, n0 + wn0, [&](int r, int c, float v) {
    if (r < M && c < N) y[(long long)r * N + c] = v;
  });
}

}  // namespace w4a4

extern "C" __global__ void __launch_bounds__(128) w4a4_gemm_m64(const unsigned char* a, const unsigned char* w, const int* info, const float* sa, const float* sw, float* y, int M, int N, int S, int G)
{
  w4a4::gemm<64, 32, 32>(a, w, info, sa, sw, y, M, N, S, G);
}

extern "C" __global__ void __launch_bounds__(128) w4a4_gemm_m16(const unsigned char* a, const unsigned char* w, const int* info, const float* sa, const float* sw, float* y, int M, int N, int S, int G)
{
  w4a4::gemm<16, 16, 16>(a, w, info, sa, sw, y, M, N, S, G);
}
