// Device ceilings: the kernels `matmix bench` times once per device to measure the roofline it reports
// against (docs/benchmarking.md, "Roofline"), instead of datasheet peaks.
//
//   ceil_copy_f32   a streaming copy, dst[i] = src[i], in 16-byte vectors: memory bandwidth is
//                   (read + written bytes) / time over a buffer much larger than L2 (as STREAM's Copy)
//   ceil_mma_<t>    a loop of independent mma.sync chains on register operands, with no memory traffic
//                   in the loop: the matrix peak of the tensor cores for f16 and bf16 (m16n8k16, float32
//                   accumulation), tf32 (m16n8k8) and s8 (m16n8k32, int32 accumulation)
//   ceil_fma_f32    a loop of independent float32 FMA chains per thread: the CUDA cores' float32 peak,
//                   the ceiling of the precise float32 path
//
// Every loop kernel reads its operands from memory (so the compiler cannot fold the loop), runs `iters`
// iterations of kChains independent chains (enough to cover the instruction latency; a single dependent
// chain would measure latency, not throughput) and writes one value per thread, so the result is known
// exactly and checked on the simulator:
//   ceil_mma_<t>: every accumulator element is iters * K * a * b (a = in[0], b = in[1] in every A and B
//                 element; K = 16, 8 or 32), and out[thread] = the sum over its kChains chains of its 4
//                 accumulator registers = 4 * kChains * iters * K * a * b (s8: a and b truncated to int)
//   ceil_fma_f32: each chain is x <- x * a + b from x = 0; out[thread] = the sum over the chains
// Work per launch (what the backend counts as FLOPs): 2 * 16 * 8 * K per mma per warp, 2 per FMA.
//
// Launch contracts:
//   ceil_copy_f32: any 1-D grid and block; n4 = number of float4 (16-byte) vectors; src and dst 16-byte
//                  aligned. Threads stride over the vectors (grid-stride loop).
//   ceil_mma_<t>:  any 1-D grid; block a multiple of 32 threads (whole warps: mma needs all 32 lanes);
//                  in holds 2 floats; out holds gridDim.x * blockDim.x floats (s8: ints).
//   ceil_fma_f32:  any 1-D grid and block; in holds 2 floats; out gridDim.x * blockDim.x floats.
#include "include/mm_cuda.h"

// The iteration loops are unrolled a few times so that the loop's own counter, compare and branch
// are a small share of the issued instructions (they would be 3 per 8 FMAs rolled).
#if defined(__CUDACC__)
#define CEIL_ITERS _Pragma("unroll 4")
#else
#define CEIL_ITERS
#endif

namespace ceil_ {

// Independent chains per warp (mma) or thread (FMA). An mma.sync's latency is about 30 cycles on
// sm_80/sm_90 and an SM sub-partition issues one every 2-8 cycles, so 8 chains per warp with 2+
// warps per sub-partition keep the tensor cores busy; 8 FMA chains cover the FMA pipeline's ~4 cycles.
constexpr int kChains = 8;

// mma_loop runs kChains chains of `iters` mma (d = a * b + d) over A and B fragments whose registers
// all hold pack(in[0]) and pack(in[1]), and writes the sum of its accumulators (Acc: float or int).
template <class Acc, class Pack, class Mma>
MM_DEVICE void mma_loop(const float* in, Acc* out, int iters, Pack pack, Mma mma) {
  const uint32_t ra = pack(in[0]), rb = pack(in[1]);
  const uint32_t fa[4] = {ra, ra, ra, ra}, fb[2] = {rb, rb};
  Acc d[kChains][4];
  MM_UNROLL
  for (int c = 0; c < kChains; c++)
    for (int i = 0; i < 4; i++) d[c][i] = Acc(0);
  CEIL_ITERS
  for (int it = 0; it < iters; it++) {
    MM_UNROLL
    for (int c = 0; c < kChains; c++) mma(d[c], fa, fb);
  }
  Acc s = Acc(0);
  MM_UNROLL
  for (int c = 0; c < kChains; c++) s += d[c][0] + d[c][1] + d[c][2] + d[c][3];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

}  // namespace ceil_

extern "C" __global__ void ceil_copy_f32(const float* src, float* dst, long long n4)
{
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x)
    mm::store_vec(dst + 4 * i, mm::load_vec<float4>(src + 4 * i));
}

extern "C" __global__ void ceil_mma_f16(const float* in, float* out, int iters)
{
  ceil_::mma_loop(
      in, out, iters, [](float x) { return mm::pack_half2(x, x); },
      [](float (&d)[4], const uint32_t (&fa)[4], const uint32_t (&fb)[2]) { mm::mma_m16n8k16_f16(d, fa, fb, d); });
}

extern "C" __global__ void ceil_mma_bf16(const float* in, float* out, int iters)
{
  ceil_::mma_loop(
      in, out, iters, [](float x) { return mm::pack_bf162(x, x); },
      [](float (&d)[4], const uint32_t (&fa)[4], const uint32_t (&fb)[2]) { mm::mma_m16n8k16_bf16(d, fa, fb, d); });
}

extern "C" __global__ void ceil_mma_tf32(const float* in, float* out, int iters)
{
  ceil_::mma_loop(
      in, out, iters, [](float x) { return mm::to_tf32(x); },
      [](float (&d)[4], const uint32_t (&fa)[4], const uint32_t (&fb)[2]) { mm::mma_m16n8k8_tf32(d, fa, fb, d); });
}

extern "C" __global__ void ceil_mma_s8(const float* in, int* out, int iters)
{
  ceil_::mma_loop(
      in, out, iters,
      [](float x) {
        const int v = int(x);
        return mm::pack_s8x4(v, v, v, v);
      },
      [](int (&d)[4], const uint32_t (&fa)[4], const uint32_t (&fb)[2]) { mm::mma_m16n8k32_s8(d, fa, fb, d); });
}

extern "C" __global__ void ceil_fma_f32(const float* in, float* out, int iters)
{
  const float a = in[0], b = in[1];
  float x[ceil_::kChains];
  MM_UNROLL
  for (int c = 0; c < ceil_::kChains; c++) x[c] = 0.0f;
  CEIL_ITERS
  for (int it = 0; it < iters; it++) {
    MM_UNROLL
    for (int c = 0; c < ceil_::kChains; c++) x[c] = fmaf(x[c], a, b);
  }
  float s = 0.0f;
  MM_UNROLL
  for (int c = 0; c < ceil_::kChains; c++) s += x[c];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}
