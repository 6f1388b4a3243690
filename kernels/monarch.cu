// Monarch products (fly convention, /work/shared/spec/workloads.md "Monarch"): x (batch, n = k*p),
// w1 (k, q, p), w2 (l, s, r) with l*r == k*q, y (batch, m = l*s), all row-major:
//   y1[b, kk, qq]  = sum_pp w1[kk, qq, pp] * x[b, kk*p + pp]        (block-diagonal 1)
//   z[b, ll, rr]   = y1 flattened as (r, l), i.e. y1flat[b, rr*l + ll]   (permutation (r l) -> (l r))
//   y2[b, ll, ss]  = sum_rr w2[ll, ss, rr] * z[b, ll, rr]           (block-diagonal 2)
//   y[b, ss*l + ll] = y2[b, ll, ss]                                  (output order (l s) -> (s l))
// as fly's blockdiag_butterfly_multiply_reference (HazyResearch/fly, src/models/layers/blockdiag_butterfly_multiply.py).
//
// Kernels:
//   monarch_fwd_f32          the first plain kernel, one batch row per block (kept for the simulator's own tests)
//   monarch_fused_<v>        the fused forward: both products and both permutations, the intermediate in
//                            shared memory (never in device memory)
//   monarch_bgemm_<v>        one batched block GEMM with the permutations folded into its addressing: the
//                            two passes of the forward when the fused kernel's tiles do not fit in shared
//                            memory, and the dx chain of the backward
//   monarch_wgrad_<v>        the weight gradients: per block, a product reduced over the batch, split over
//                            the batch into float32 partial sums
//   monarch_reduce_<t>       sums those partials in a fixed order (deterministic) into the gradient's dtype
// <v> is the arithmetic: f32 (float32 FMA on the CUDA cores: the precise path), tf32 (float32 operands rounded
// to tf32 for mma.m16n8k8), f16 and bf16 (mma.m16n8k16); every variant accumulates in float32.
//
// monarch_fwd_f32 launch contract:
//   grid  (G, 1, 1), any G >= 1: block b' handles batch rows b', b' + G, ...
//   block (T, 1, 1), any T in 1..1024 (256 is a good default)
//   dynamic shared memory: k*q*sizeof(float) bytes (one row's intermediate y1); the caller checks it
//   against the device limit (and raises the kernel's limit above 48 KiB).
//   The caller checks the shapes (n = k*p, l*r = k*q); batch may be 0.
#include "include/mm_cuda.h"

extern "C" __global__ void monarch_fwd_f32(const float* x, const float* w1, const float* w2, float* y, int batch, int k, int q, int p, int l, int s, int r)
{
  MM_DYNAMIC_SHARED(float, y1);  // k*q floats; index kk*q + qq, which is also rr*l + ll
  const int nq = k * q;
  const long long n = (long long)k * p, m = (long long)l * s;
  for (int b = blockIdx.x; b < batch; b += gridDim.x) {
    // Block-diagonal 1: one output of block kk per thread step.
    const float* xb = x + b * n;
    for (int i = threadIdx.x; i < nq; i += blockDim.x) {
      const int kk = i / q;
      const float* w = w1 + (long long)i * p;  // w1[kk, qq, :] with i = kk*q + qq
      const float* xs = xb + (long long)kk * p;
      float acc = 0.0f;
      for (int j = 0; j < p; j++) acc = fmaf(w[j], xs[j], acc);
      y1[i] = acc;
    }
    __syncthreads();
    // Block-diagonal 2, written in output order so consecutive threads store consecutive addresses.
    float* yb = y + b * m;
    for (long long o = threadIdx.x; o < m; o += blockDim.x) {
      const int ss = int(o / l), ll = int(o % l);
      const float* w = w2 + ((long long)ll * s + ss) * r;  // w2[ll, ss, :]
      float acc = 0.0f;
      for (int j = 0; j < r; j++) acc = fmaf(w[j], y1[j * l + ll], acc);
      yb[o] = acc;
    }
    __syncthreads();  // y1 is rewritten for the next row
  }
}

// ======================================================================================================
// The fast kernels. One compute core serves all of them: a thread block stages an A tile (rows m, depth
// k; k contiguous) and a B tile (rows n, depth k; k contiguous) in shared memory, and each warp multiplies
// a (16*MT) x (8*NT) piece of A B^T with mma.sync (or with FMAs on the precise path), accumulating in
// float32 in the mma accumulator layout (mm::layout::AccM16N8) on every path, so that the epilogues are
// shared. What differs between the kernels is how tiles are staged (which global element lands where:
// the fly permutations are index maps applied while staging or storing) and where results go.
// ======================================================================================================


namespace monarch {

constexpr int kThreads = 128;  // 4 warps per block for every kernel but the reduction
constexpr int kWarps = kThreads / 32;

// Storage <-> float32 conversions: mm::to_f, mm::from_f (include/mm_cuda.h).
using mm::from_f;
using mm::to_f;
// Element e of a 16-byte vector of T.
MM_DEVICE uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }
MM_DEVICE float bits_to(float, uint32_t w, int) { return __uint_as_float(w); }
MM_DEVICE __half bits_to(__half, uint32_t w, int e) { return __ushort_as_half((unsigned short)(w >> (16 * (e & 1)))); }
MM_DEVICE __nv_bfloat16 bits_to(__nv_bfloat16, uint32_t w, int e) {
  return __ushort_as_bfloat16((unsigned short)(w >> (16 * (e & 1))));
}
template <class T>
MM_DEVICE T unpack(const uint4& v, int e) {
  return bits_to(T{}, word(v, e * int(sizeof(T)) / 4), e);
}
// A shared-memory element read into a typed value (the simulator's element is a proxy).
template <class T>
MM_DEVICE T lds(mm::smem_ptr<T> p, int i) {
  const T v = p[i];
  return v;
}

// The fly permutations as one index map: element e of a row read as an (R, L) matrix flattened
// row-major (e = a*L + c) goes to (c, a) of the (L, R) transpose: perm(e) = (e % L) * R + e / L.
// L = 1 is the identity. Forward: y1 -> z is (l, r), y2 -> y is (s, l); backward: dy -> dy2 reads
// through (s, l) and dz -> dy1 writes through (r, l).
MM_HD int perm(int e, int L, int R) { return (e % L) * R + e / L; }

// Sizes per arithmetic: the mma depth (16 for f16/bf16, 8 for tf32; the FMA path pads like tf32) and
// the 16 bytes of padding that end every shared-memory row, so that the 8 rows an ldmatrix (or the
// tf32 fragment loads) touch fall in different banks.
template <class T, bool TC>
struct Arith {
  static constexpr int kStep = (TC && sizeof(T) == 2) ? 16 : 8;
  static constexpr int kPad = 16 / int(sizeof(T));
  static constexpr int kVec = 16 / int(sizeof(T));  // elements per 16-byte vector
};
MM_HD int round_up(int v, int m) { return (v + m - 1) / m * m; }

MM_DEVICE void mma_half(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], __half) {
  mm::mma_m16n8k16_f16(d, a, b, d);
}
MM_DEVICE void mma_half(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], __nv_bfloat16) {
  mm::mma_m16n8k16_bf16(d, a, b, d);
}

// warp_mma: acc[mt][nt] += A[m0 + 16 mt .. +16][0, kend) * B[n0 + 8 nt .. +8][0, kend)^T for nt < nt_valid
// (warp-uniform: tiles past the last valid column are skipped, their rows need not exist). A(m, k) is
// sA[m * lda + k] and B(n, k) is sB[n * ldb + k]; kend is a multiple of Arith::kStep, the tiles are
// zero-padded up to it. Every lane of the warp calls it.
template <class T, bool TC, int MT, int NT, class PA, class PB>
MM_DEVICE void warp_mma(float (&acc)[MT][NT][4], PA sA, int lda, PB sB, int ldb, int m0, int n0, int kend,
                        int nt_valid) {
  const int lane = threadIdx.x & 31;
  if constexpr (!TC) {
    // The precise path: float32 FMAs in k order, each lane owning the accumulator elements the mma
    // layout gives it (rows g, g + 8; columns 2t, 2t + 1 of each 8-column tile).
    static_assert(sizeof(T) == 4, "the FMA path is float32");
    const int g = lane >> 2, c = (lane & 3) * 2;
    for (int k = 0; k < kend; k++) {
      float a[MT][2];
      MM_UNROLL
      for (int mt = 0; mt < MT; mt++) {
        a[mt][0] = lds<T>(sA, (m0 + 16 * mt + g) * lda + k);
        a[mt][1] = lds<T>(sA, (m0 + 16 * mt + g + 8) * lda + k);
      }
      MM_UNROLL
      for (int nt = 0; nt < NT; nt++) {
        if (nt >= nt_valid) break;
        const float b0 = lds<T>(sB, (n0 + 8 * nt + c) * ldb + k);
        const float b1 = lds<T>(sB, (n0 + 8 * nt + c + 1) * ldb + k);
        MM_UNROLL
        for (int mt = 0; mt < MT; mt++) {
          acc[mt][nt][0] = fmaf(a[mt][0], b0, acc[mt][nt][0]);
          acc[mt][nt][1] = fmaf(a[mt][0], b1, acc[mt][nt][1]);
          acc[mt][nt][2] = fmaf(a[mt][1], b0, acc[mt][nt][2]);
          acc[mt][nt][3] = fmaf(a[mt][1], b1, acc[mt][nt][3]);
        }
      }
    }
  } else if constexpr (sizeof(T) == 4) {
    // tf32: fragments read element by element (ldmatrix moves 16-bit elements only), rounded with
    // cvt.rna.tf32.f32.
    using L = mm::layout::M16N8K8Tf32;
    for (int k0 = 0; k0 < kend; k0 += L::K) {
      uint32_t a[MT][4];
      MM_UNROLL
      for (int mt = 0; mt < MT; mt++)
        MM_UNROLL
        for (int i = 0; i < 4; i++)
          a[mt][i] = mm::to_tf32(lds<T>(sA, (m0 + 16 * mt + L::a_row(lane, i)) * lda + k0 + L::a_col(lane, i)));
      MM_UNROLL
      for (int nt = 0; nt < NT; nt++) {
        if (nt >= nt_valid) break;
        uint32_t b[2];
        MM_UNROLL
        for (int i = 0; i < 2; i++)
          b[i] = mm::to_tf32(lds<T>(sB, (n0 + 8 * nt + L::b_col(lane, i)) * ldb + k0 + L::b_row(lane, i)));
        MM_UNROLL
        for (int mt = 0; mt < MT; mt++) mm::mma_m16n8k8_tf32(acc[mt][nt], a[mt], b, acc[mt][nt]);
      }
    }
  } else {
    // f16/bf16: ldmatrix.x4 gives the A fragment of m16n8k16 (matrices: rows 0-7 / 8-15 x k 0-7 / 8-15,
    // addressed by lanes 0-7, 8-15, 16-23, 24-31), ldmatrix.x2 the B fragment (8 rows n x k 0-7 / 8-15):
    // B is stored n-major, which is the column-major K x N operand mma wants.
    for (int k0 = 0; k0 < kend; k0 += 16) {
      uint32_t a[MT][4];
      MM_UNROLL
      for (int mt = 0; mt < MT; mt++)
        mm::ldmatrix_x4<T>(a[mt], sA + (m0 + 16 * mt + (lane & 15)) * lda + k0 + (lane >> 4) * 8);
      MM_UNROLL
      for (int nt = 0; nt < NT; nt++) {
        if (nt >= nt_valid) break;
        uint32_t b[2];
        mm::ldmatrix_x2<T>(b, sB + (n0 + 8 * nt + (lane & 7)) * ldb + k0 + ((lane >> 3) & 1) * 8);
        MM_UNROLL
        for (int mt = 0; mt < MT; mt++) mma_half(acc[mt][nt], a[mt], b, T{});
      }
    }
  }
}

// A tile of a global matrix: element (i, j), for i < rows and j < cols, is at base[i * ld + perm(c0 + j)];
// the rest of the padded tile is zero. vec: the map is the identity and every 16-byte chunk of a row
// is aligned and inside or outside the tile as a whole (the caller checks the strides and sizes).
template <class T>
struct GTile {
  const T* base;
  long long ld;
  int c0, rows, cols, L, R;
  bool vec;
  MM_DEVICE const T* at(int i, int j) const { return base + i * ld + perm(c0 + j, L, R); }
};

// stage: the padded tile (rows_pad x cols_pad, cols_pad a multiple of 16 bytes) into s, row stride lds,
// in the global orientation. 16-byte cp.async when g.vec (zero-filled outside: the copies complete at
// the caller's cp_async_wait), else element by element (complete on return).
template <class T, class PS>
MM_DEVICE void stage(PS s, int lds_, const GTile<T>& g, int rows_pad, int cols_pad) {
  constexpr int E = 16 / int(sizeof(T));
  if (g.vec) {
    const int cpr = cols_pad / E;
    for (int c = threadIdx.x; c < rows_pad * cpr; c += blockDim.x) {
      const int i = c / cpr, j = c % cpr * E;
      const bool ok = i < g.rows && j < g.cols;
      mm::cp_async_16_zfill<T>(s + i * lds_ + j, ok ? g.at(i, j) : g.base, ok);
    }
  } else {
    for (int c = threadIdx.x; c < rows_pad * cols_pad; c += blockDim.x) {
      const int i = c / cols_pad, j = c % cols_pad;
      s[i * lds_ + j] = i < g.rows && j < g.cols ? *g.at(i, j) : from_f<T>(0.0f);
    }
  }
}

// stage_t: the same tile transposed: element (i, j) to s[j * lds + i] (rows_pad is then a multiple of
// 16 bytes). Global reads are 16-byte vector loads when g.vec.
template <class T, class PS>
MM_DEVICE void stage_t(PS s, int lds_, const GTile<T>& g, int rows_pad, int cols_pad) {
  constexpr int E = 16 / int(sizeof(T));
  if (g.vec) {
    const int cpr = cols_pad / E;
    for (int c = threadIdx.x; c < rows_pad * cpr; c += blockDim.x) {
      const int i = c / cpr, j = c % cpr * E;
      if (i < g.rows && j < g.cols) {
        const uint4 v = mm::load_vec<uint4>(g.at(i, j));
        MM_UNROLL
        for (int e = 0; e < E; e++) s[(j + e) * lds_ + i] = unpack<T>(v, e);
      } else {
        MM_UNROLL
        for (int e = 0; e < E; e++) s[(j + e) * lds_ + i] = from_f<T>(0.0f);
      }
    }
  } else {
    for (int c = threadIdx.x; c < rows_pad * cols_pad; c += blockDim.x) {
      const int i = c % rows_pad, j = c / rows_pad;  // i fastest: consecutive threads, consecutive smem
      s[j * lds_ + i] = i < g.rows && j < g.cols ? *g.at(i, j) : from_f<T>(0.0f);
    }
  }
}

// ---- the fused forward ----
//
// A block owns bm batch rows (a multiple of 16, at most 64) and runs k + l steps over them, double
// buffered (the copies of step t + 1 fly while step t computes):
//   step kk < k:     stage x[rows, kk*p .. +p) and w1[kk]; y1 = x w1[kk]^T by mma; each result
//                    y1[b, kk*q + qq] is stored straight into its permuted place in sZ, which holds
//                    z[b, ll, rr] at row b, column ll*rK + rr (the input layout of step 2's blocks)
//   step k + ll:     stage w2[ll]; y2 = z[:, ll, :] w2[ll]^T by mma, read from sZ; the results go to
//                    sOut, which gathers `group` consecutive blocks ll so that each row's outputs
//                    y[b, ss*l + ll0 .. + group) leave as contiguous runs (a 32-byte sector for the
//                    group the backend picks) instead of one element per sector.
// The intermediate never leaves shared memory. Shared memory (dynamic, 16-byte aligned sections; the
// backend computes the same sizes in monarchFusedSmem):
//   sZ    bm x ldz,             ldz = l*rK + pad       (rK = r rounded up to the mma depth)
//   sOut  bm x s x group
//   sA    2 x bm x ldA,         ldA = pK + pad         (x tiles)
//   sB    2 x max(qN x ldA, sN x ldB2), ldB2 = rK + pad (weight blocks; qN, sN rounded up to 8)
template <class T, bool TC>
struct FusedLayout {
  int pK, rK, qN, sN, ldA, ldB2, ldz, stA, stB;
  long long offOut, offA, offB, bytes;
  MM_DEVICE FusedLayout(int bm, int k, int q, int p, int l, int s, int r, int group) {
    using A = Arith<T, TC>;
    (void)k;
    pK = round_up(p, A::kStep);
    rK = round_up(r, A::kStep);
    qN = round_up(q, 8);
    sN = round_up(s, 8);
    ldA = pK + A::kPad;
    ldB2 = rK + A::kPad;
    ldz = l * rK + A::kPad;
    stA = bm * ldA;
    stB = qN * ldA > sN * ldB2 ? qN * ldA : sN * ldB2;
    const long long sz = sizeof(T);
    offOut = round_up16(bm * (long long)ldz * sz);
    offA = offOut + round_up16((long long)bm * s * group * sz);
    offB = offA + 2 * stA * sz;
    bytes = offB + 2 * stB * sz;
  }
  MM_DEVICE static long long round_up16(long long v) { return (v + 15) / 16 * 16; }
};

template <class T, bool TC>
MM_DEVICE void fused(const T* x, const T* w1, const T* w2, T* y, int batch, int k, int q, int p, int l, int s, int r,
                     int bm, int group, int vec) {
  MM_DYNAMIC_SHARED(unsigned char, smem);
  const FusedLayout<T, TC> lay(bm, k, q, p, l, s, r, group);
  const auto sZ = mm::smem_cast<T, unsigned char>(smem);
  const auto sOut = mm::smem_cast<T, unsigned char>(smem + lay.offOut);
  const auto sA = mm::smem_cast<T, unsigned char>(smem + lay.offA);
  const auto sB = mm::smem_cast<T, unsigned char>(smem + lay.offB);
  const int n = k * p, m = l * s, steps = k + l;
  const int warp = threadIdx.x >> 5;

  // The depth padding of each z block is never written by step 1 and must read as zero in step 2.
  for (int c = threadIdx.x; c < bm * l * (lay.rK - r); c += blockDim.x) {
    const int row = c / (l * (lay.rK - r)), rest = c % (l * (lay.rK - r));
    sZ[row * lay.ldz + rest / (lay.rK - r) * lay.rK + r + rest % (lay.rK - r)] = from_f<T>(0.0f);
  }

  // One step's operands into buffer buf.
  auto issue = [&](int b0, int rows, int t, int buf) {
    if (t < k) {
      stage<T>(sA + buf * lay.stA, lay.ldA, GTile<T>{x + (long long)b0 * n, n, t * p, rows, p, 1, 1, (vec & 1) != 0},
               bm, lay.pK);
      stage<T>(sB + buf * lay.stB, lay.ldA, GTile<T>{w1 + (long long)t * q * p, p, 0, q, p, 1, 1, (vec & 2) != 0},
               lay.qN, lay.pK);
    } else {
      stage<T>(sB + buf * lay.stB, lay.ldB2,
               GTile<T>{w2 + (long long)(t - k) * s * r, r, 0, s, r, 1, 1, (vec & 4) != 0}, lay.sN, lay.rK);
    }
    mm::cp_async_commit();
  };
  // The warp jobs of one product: 16 rows x 16 columns (two 8-column mma tiles) each.
  auto product = [&](auto sa, int lda, auto sb, int ldb, int kend, int ncols, auto&& epilogue) {
    const int mt = bm / 16, nt8 = (ncols + 7) / 8, ng = (nt8 + 1) / 2;
    for (int job = warp; job < mt * ng; job += kWarps) {
      const int m0 = job % mt * 16, n0 = job / mt * 16;
      float acc[1][2][4] = {};
      warp_mma<T, TC, 1, 2>(acc, sa, lda, sb, ldb, m0, n0, kend, nt8 - job / mt * 2);
      mm::for_acc<1, 2>(acc, m0, n0, [&](int mm_, int nn, float v) {
        if (nn < ncols) epilogue(mm_, nn, v);
      });
    }
  };

  const int tiles = (batch + bm - 1) / bm;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int b0 = tile * bm, rows = min(bm, batch - b0);
    issue(b0, rows, 0, 0);
    for (int t = 0; t < steps; t++) {
      const int buf = t & 1;
      if (t + 1 < steps) {
        issue(b0, rows, t + 1, buf ^ 1);
        mm::cp_async_wait<1>();
      } else {
        mm::cp_async_wait<0>();
      }
      __syncthreads();  // step t's tiles (and, from step k on, all of sZ) are visible to every warp
      if (t < k) {
        product(sA + buf * lay.stA, lay.ldA, sB + buf * lay.stB, lay.ldA, lay.pK, q, [&](int mm_, int qq, float v) {
          const int e = t * q + qq;  // y1 column kk*q + qq = rr*l + ll
          sZ[mm_ * lay.ldz + e % l * lay.rK + e / l] = from_f<T>(v);
        });
      } else {
        const int ll = t - k, gi = ll % group;
        product(sZ + ll * lay.rK, lay.ldz, sB + buf * lay.stB, lay.ldB2, lay.rK, s,
                [&](int mm_, int ss, float v) { sOut[(mm_ * s + ss) * group + gi] = from_f<T>(v); });
      }
      __syncthreads();  // buffer buf and sOut are read; step t + 2 may refill them
      if (t >= k && ((t - k) % group == group - 1 || t == steps - 1)) {
        const int ll0 = (t - k) / group * group, gn = t - k - ll0 + 1;
        for (int c = threadIdx.x; c < rows * s * gn; c += blockDim.x) {
          const int gi = c % gn, ss = c / gn % s, row = c / gn / s;
          y[(long long)(b0 + row) * m + ss * l + ll0 + gi] = lds<T>(sOut, (row * s + ss) * group + gi);
        }
        // sOut is next written after the next step's first barrier.
      }
    }
  }
}

// ---- the batched block GEMM ----
//
//   C[b, perm_c(blk*N + j)] = sum_{i < K} A[b, perm_a(blk*K + i)] * W(blk, j, i)    for every block blk
// with W(blk, j, i) = w[blk*N*K + j*K + i] (wtrans = 0: w is (nblk, N, K), like w1 and w2) or
// w[blk*N*K + i*N + j] (wtrans = 1: the transpose, as the backward reads w1 and w2), perm_a = perm(., aL, aR)
// and perm_c = perm(., cL, cR). Tiles of 64 rows x 64 columns x 32 deep, double buffered; each warp owns
// 32 x 32 of the tile (2 x 4 mma tiles).
constexpr int kGemmBM = 64, kGemmBN = 64, kGemmBK = 32;

template <class T, bool TC>
MM_DEVICE void bgemm(const T* a, const T* w, T* c, int batch, int nblk, int N, int K, long long lda, long long ldc,
                     int aL, int aR, int cL, int cR, int wtrans, int vec) {
  constexpr int BM = kGemmBM, BN = kGemmBN, BK = kGemmBK, LD = BK + Arith<T, TC>::kPad;
  MM_SHARED_ALIGNED(T, sA, 2 * BM * LD, 16);
  MM_SHARED_ALIGNED(T, sB, 2 * BN * LD, 16);
  const int blk = blockIdx.x % nblk, n0 = blockIdx.x / nblk * BN;
  const int warp = threadIdx.x >> 5, wm = warp & 1, wn = warp >> 1;
  const long long wblk = (long long)blk * N * K;
  const int nk = (K + BK - 1) / BK;
  const int tiles = (batch + BM - 1) / BM;
  for (int tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
    const int b0 = tile * BM, rows = min(BM, batch - b0);
    auto issue = [&](int kc, int buf) {
      const int k0 = kc * BK, kn = min(BK, K - k0);
      stage<T>(sA + buf * BM * LD, LD,
               GTile<T>{a + b0 * lda, lda, blk * K + k0, rows, kn, aL, aR, (vec & 1) != 0}, BM, BK);
      if (!wtrans)
        stage<T>(sB + buf * BN * LD, LD,
                 GTile<T>{w + wblk + (long long)n0 * K, K, k0, min(BN, N - n0), kn, 1, 1, (vec & 2) != 0}, BN, BK);
      else
        stage_t<T>(sB + buf * BN * LD, LD,
                   GTile<T>{w + wblk + (long long)k0 * N, N, n0, kn, min(BN, N - n0), 1, 1, (vec & 2) != 0}, BK, BN);
      mm::cp_async_commit();
    };
    float acc[2][4][4] = {};
    issue(0, 0);
    for (int kc = 0; kc < nk; kc++) {
      if (kc + 1 < nk) {
        issue(kc + 1, (kc + 1) & 1);
        mm::cp_async_wait<1>();
      } else {
        mm::cp_async_wait<0>();
      }
      __syncthreads();
      const int buf = kc & 1;
      const int nvalid = (N - n0 - wn * 32 + 7) / 8;  // warp-uniform
      if (nvalid > 0)
        warp_mma<T, TC, 2, 4>(acc, sA + buf * BM * LD, LD, sB + buf * BN * LD, LD, wm * 32, wn * 32, BK, nvalid);
      __syncthreads();
    }
    mm::for_acc<2, 4>(acc, wm * 32, n0 + wn * 32, [&](int mm_, int j, float v) {
      if (mm_ < rows && j < N) c[(b0 + mm_) * ldc + perm(blk * N + j, cL, cR)] = from_f<T>(v);
    });
  }
}

// ---- the weight gradients ----
//
//   ws[z, blk, j, i] = sum_{b in split z} G[b, perm_g(blk*NJ + j)] * H[b, perm_h(blk*NI + i)]
// for split z (grid.y) over the batch rows [z*chunk, min(batch, (z+1)*chunk)), chunk a multiple of 32.
// dw2 = dy2^T z is G = dy read through (s, l), H = z; dw1 = dy1^T x is G = dy1, H = x. The batch is the
// mma depth, so both operands are staged transposed (16-byte global loads when contiguous). Tiles of
// 64 (j) x 64 (i) x 32 (batch rows); grid.x = nblk * tiles of j * tiles of i.
template <class T, bool TC>
MM_DEVICE void wgrad(const T* g, const T* h, float* ws, int batch, int nblk, int NJ, int NI, long long ldg,
                     long long ldh, int gL, int gR, int hL, int hR, int chunk, int vec) {
  constexpr int BM = kGemmBM, BN = kGemmBN, BK = kGemmBK, LD = BK + Arith<T, TC>::kPad;
  MM_SHARED_ALIGNED(T, sA, 2 * BM * LD, 16);
  MM_SHARED_ALIGNED(T, sB, 2 * BN * LD, 16);
  const int tj = (NJ + BM - 1) / BM;
  const int blk = blockIdx.x % nblk, j0 = blockIdx.x / nblk % tj * BM, i0 = blockIdx.x / nblk / tj * BN;
  const int warp = threadIdx.x >> 5, wm = warp & 1, wn = warp >> 1;
  const int z = blockIdx.y;
  const int bstart = z * chunk, bend = min(batch, bstart + chunk);
  const int nk = bend > bstart ? (bend - bstart + BK - 1) / BK : 0;
  auto issue = [&](int kc, int buf) {
    const int b0 = bstart + kc * BK, kn = min(BK, bend - b0);
    stage_t<T>(sA + buf * BM * LD, LD,
               GTile<T>{g + b0 * ldg, ldg, blk * NJ + j0, kn, min(BM, NJ - j0), gL, gR, (vec & 1) != 0}, BK, BM);
    stage_t<T>(sB + buf * BN * LD, LD,
               GTile<T>{h + b0 * ldh, ldh, blk * NI + i0, kn, min(BN, NI - i0), hL, hR, (vec & 2) != 0}, BK, BN);
    mm::cp_async_commit();
  };
  float acc[2][4][4] = {};
  if (nk > 0) issue(0, 0);
  for (int kc = 0; kc < nk; kc++) {
    if (kc + 1 < nk) {
      issue(kc + 1, (kc + 1) & 1);
      mm::cp_async_wait<1>();
    } else {
      mm::cp_async_wait<0>();
    }
    __syncthreads();
    const int buf = kc & 1;
    const int nvalid = (NI - i0 - wn * 32 + 7) / 8;
    if (nvalid > 0 && j0 + wm * 32 < NJ)
      warp_mma<T, TC, 2, 4>(acc, sA + buf * BM * LD, LD, sB + buf * BN * LD, LD, wm * 32, wn * 32, BK, nvalid);
    __syncthreads();
  }
  float* out = ws + ((long long)z * nblk + blk) * NJ * NI;
  mm::for_acc<2, 4>(acc, j0 + wm * 32, i0 + wn * 32, [&](int j, int i, float v) {
    if (j < NJ && i < NI) out[(long long)j * NI + i] = v;
  });
}

// out[e] = sum over z < splits of ws[z * total + e], in z order, rounded once to T.
template <class T>
MM_DEVICE void reduce(const float* ws, T* out, long long total, int splits) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    float acc = 0.0f;
    for (int z = 0; z < splits; z++) acc += ws[z * total + e];
    out[e] = from_f<T>(acc);
  }
}

}  // namespace monarch

// ---- the kernels (launch contracts; the backend in cuda/backend/monarch*.go follows them) ----
//
// monarch_fused_<v>: grid (G, 1, 1), any G >= 1 (block i takes row tiles i, i + G, ...); block (128, 1, 1);
//   dynamic shared memory: the FusedLayout bytes for (bm, shape, group). bm in {16, 32, 48, 64}; group >= 1
//   (blocks ll gathered per output flush). vec bits: 1 x rows (n and p multiples of 16 bytes), 2 w1 (p),
//   4 w2 (r); each allows 16-byte cp.async for that operand.
// monarch_bgemm_<v>: grid (nblk * ceil(N/64), G, 1), any G >= 1 (row tiles of 64 strided by G); block (128, 1, 1);
//   no dynamic shared memory. vec bits: 1 A (aL == 1, K and lda multiples of 16 bytes), 2 W (K, or N when wtrans).
// monarch_wgrad_<v>: grid (nblk * ceil(NJ/64) * ceil(NI/64), splits, 1) with splits * chunk >= batch;
//   block (128, 1, 1). ws holds splits * nblk * NJ * NI floats. vec bits: 1 G (gL == 1, NJ and ldg multiples
//   of 16 bytes), 2 H (the same for hL, NI, ldh).
// monarch_reduce_<t>: any 1-D grid and block.
// All sizes are int and every index within one row or one weight tensor fits in int (the backend checks).
extern "C" __global__ void __launch_bounds__(128) monarch_fused_f32(const float* x, const float* w1, const float* w2, float* y, int batch, int k, int q, int p, int l, int s, int r, int bm, int group, int vec)
{
  monarch::fused<float, false>(x, w1, w2, y, batch, k, q, p, l, s, r, bm, group, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_fused_tf32(const float* x, const float* w1, const float* w2, float* y, int batch, int k, int q, int p, int l, int s, int r, int bm, int group, int vec)
{
  monarch::fused<float, true>(x, w1, w2, y, batch, k, q, p, l, s, r, bm, group, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_fused_f16(const __half* x, const __half* w1, const __half* w2, __half* y, int batch, int k, int q, int p, int l, int s, int r, int bm, int group, int vec)
{
  monarch::fused<__half, true>(x, w1, w2, y, batch, k, q, p, l, s, r, bm, group, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_fused_bf16(const __nv_bfloat16* x, const __nv_bfloat16* w1, const __nv_bfloat16* w2, __nv_bfloat16* y, int batch, int k, int q, int p, int l, int s, int r, int bm, int group, int vec)
{
  monarch::fused<__nv_bfloat16, true>(x, w1, w2, y, batch, k, q, p, l, s, r, bm, group, vec);
}

extern "C" __global__ void __launch_bounds__(128) monarch_bgemm_f32(const float* a, const float* w, float* c, int batch, int nblk, int N, int K, long long lda, long long ldc, int aL, int aR, int cL, int cR, int wtrans, int vec)
{
  monarch::bgemm<float, false>(a, w, c, batch, nblk, N, K, lda, ldc, aL, aR, cL, cR, wtrans, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_bgemm_tf32(const float* a, const float* w, float* c, int batch, int nblk, int N, int K, long long lda, long long ldc, int aL, int aR, int cL, int cR, int wtrans, int vec)
{
  monarch::bgemm<float, true>(a, w, c, batch, nblk, N, K, lda, ldc, aL, aR, cL, cR, wtrans, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_bgemm_f16(const __half* a, const __half* w, __half* c, int batch, int nblk, int N, int K, long long lda, long long ldc, int aL, int aR, int cL, int cR, int wtrans, int vec)
{
  monarch::bgemm<__half, true>(a, w, c, batch, nblk, N, K, lda, ldc, aL, aR, cL, cR, wtrans, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_bgemm_bf16(const __nv_bfloat16* a, const __nv_bfloat16* w, __nv_bfloat16* c, int batch, int nblk, int N, int K, long long lda, long long ldc, int aL, int aR, int cL, int cR, int wtrans, int vec)
{
  monarch::bgemm<__nv_bfloat16, true>(a, w, c, batch, nblk, N, K, lda, ldc, aL, aR, cL, cR, wtrans, vec);
}

extern "C" __global__ void __launch_bounds__(128) monarch_wgrad_f32(const float* g, const float* h, float* ws, int batch, int nblk, int NJ, int NI, long long ldg, long long ldh, int gL, int gR, int hL, int hR, int chunk, int vec)
{
  monarch::wgrad<float, false>(g, h, ws, batch, nblk, NJ, NI, ldg, ldh, gL, gR, hL, hR, chunk, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_wgrad_tf32(const float* g, const float* h, float* ws, int batch, int nblk, int NJ, int NI, long long ldg, long long ldh, int gL, int gR, int hL, int hR, int chunk, int vec)
{
  monarch::wgrad<float, true>(g, h, ws, batch, nblk, NJ, NI, ldg, ldh, gL, gR, hL, hR, chunk, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_wgrad_f16(const __half* g, const __half* h, float* ws, int batch, int nblk, int NJ, int NI, long long ldg, long long ldh, int gL, int gR, int hL, int hR, int chunk, int vec)
{
  monarch::wgrad<__half, true>(g, h, ws, batch, nblk, NJ, NI, ldg, ldh, gL, gR, hL, hR, chunk, vec);
}
extern "C" __global__ void __launch_bounds__(128) monarch_wgrad_bf16(const __nv_bfloat16* g, const __nv_bfloat16* h, float* ws, int batch, int nblk, int NJ, int NI, long long ldg, long long ldh, int gL, int gR, int hL, int hR, int chunk, int vec)
{
  monarch::wgrad<__nv_bfloat16, true>(g, h, ws, batch, nblk, NJ, NI, ldg, ldh, gL, gR, hL, hR, chunk, vec);
}

extern "C" __global__ void monarch_reduce_f32(const float* ws, float* out, long long total, int splits)
{
  monarch::reduce<float>(ws, out, total, splits);
}
extern "C" __global__ void monarch_reduce_f16(const float* ws, __half* out, long long total, int splits)
{
  monarch::reduce<__half>(ws, out, total, splits);
}
extern "C" __global__ void monarch_reduce_bf16(const float* ws, __nv_bfloat16* out, long long total, int splits)
{
  monarch::reduce<__nv_bfloat16>(ws, out, total, splits);
}
