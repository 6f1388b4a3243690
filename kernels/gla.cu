// Gated linear attention (Yang et al. 2023) in the flash-linear-attention convention
// (/work/shared/spec/workloads.md "GLA"; fla/ops/gla/naive.py naive_recurrent_gla is the definition):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,   o_t = scale * q_t S_t   (S is K x V, float32)
//
// Kernels:
//   gla_recurrent_<t>          one token at a time: the decode step (state in place) and very short sequences
//   gla_chunk_<t>_k<KT>        the chunked form: chunks of 64 tokens in 16-row sub-chunks, on tensor cores
//   gla_chunk_reduce_<t>       sums the per-key-tile partial outputs of gla_chunk when K spans several tiles
// <t> is the input dtype (f32, f16, bf16); o is written in it, states are float32.
//
// Common arguments (row-major):
//   q, k, g   [tokens, H, K]   tokens = B*T (batch-major [B, T, H, K] flattened) or the packed varlen tokens
//                              (B = 1) when cu_seqlens is given; g is the log of the decay (normally <= 0)
//   v, o      [tokens, H, V]   o is written for every token of every sequence
//   cu_seqlens32, cu_seqlens64 at most one non-null: [N+1] sequence offsets into the tokens (int32 or int64,
//                              starting at 0, non-decreasing); both null: N sequences of T tokens each, N the
//                              grid's sequence axis
//   T          tokens per sequence when both cu_seqlens are null (unused otherwise)
//   H, K, V    heads, key and value dimensions (any >= 1)
//   scale      the query scale (the caller resolves the default K^-0.5)
#include "include/mm_cuda.h"

// GLA_ROLLED keeps a loop with a constant trip count rolled where unrolling would only grow the code
// (register arrays' loops are unrolled with MM_UNROLL, or the arrays go to local memory).
#if defined(__CUDACC__)
#define GLA_ROLLED _Pragma("unroll 1")
#else
#define GLA_ROLLED
#endif

namespace gla {

// Storage <-> float32 conversions: mm::to_f, mm::from_f (include/mm_cuda.h).
using mm::from_f;
using mm::to_f;
// A shared-memory element as float (the simulator's element is a proxy: read it into a typed value).
template <class T>
MM_DEVICE float ldf(mm::smem_ptr<T> p, int i) {
  const T v = p[i];
  return to_f(v);
}

// The [start, end) tokens of sequence n.
MM_DEVICE void sequence(const int* cu32, const long long* cu64, int n, int T, long long& bos, long long& eos) {
  if (cu64) {
    bos = cu64[n];
    eos = cu64[n + 1];
  } else if (cu32) {
    bos = cu32[n];
    eos = cu32[n + 1];
  } else {
    bos = (long long)n * T;
    eos = bos + T;
  }
}

// ======================================================================================================
// Recurrent form.
//   state      [N, H, K, V] float32, required. In: S_0 of sequence n when load_state != 0 (h0 / the decode
//              state), ignored otherwise (S_0 = 0). Out: S_T, the final state (ht). Updated in place; pass a
//              scratch buffer when no final state is wanted.
//   load_state 1: read S_0 from state; 0: start from zeros
// Launch contract:
//   grid  (H, N, 1): block (h, n) runs head h of sequence n (N <= 65535)
//   block (B, 1, 1), any B in 1..1024: thread j owns the state columns j, j + B, ... (128 is a good default)
//   dynamic shared memory: 3*K*sizeof(float) bytes (the token's scaled q, k and exp(g))
// The decode step is T = 1, load_state = 1, with q, k, g as [B, H, K] and v, o as [B, H, V]. The state
// lives in global memory: thread j only ever touches its own columns, so no barrier guards it, and a
// decode step reads and writes S once, the minimum.
// ======================================================================================================
template <class T>
MM_DEVICE void recurrent(const T* q, const T* k, const T* v, const T* g, T* o, float* state, const int* cu32,
                         const long long* cu64, int T_, int H, int K, int V, float scale, int load_state) {
  MM_DYNAMIC_SHARED(float, tok);  // [3][K]: q*scale, k, exp(g) of the current token
  const auto sq = tok;
  const auto sk = tok + K;
  const auto se = tok + 2 * K;
  const int h = blockIdx.x, n = blockIdx.y;
  long long bos, eos;
  sequence(cu32, cu64, n, T_, bos, eos);
  float* S = state + ((long long)n * H + h) * K * V;
  if (!load_state)
    for (int kk = 0; kk < K; kk++)
      for (int vv = threadIdx.x; vv < V; vv += blockDim.x) S[(long long)kk * V + vv] = 0.0f;
  for (long long t = bos; t < eos; t++) {
    const long long qk = (t * H + h) * K;
    for (int i = threadIdx.x; i < K; i += blockDim.x) {
      sq[i] = to_f(q[qk + i]) * scale;
      sk[i] = to_f(k[qk + i]);
      se[i] = expf(to_f(g[qk + i]));
    }
    __syncthreads();
    const long long ov = (t * H + h) * V;
    for (int vv = threadIdx.x; vv < V; vv += blockDim.x) {
      const float vt = to_f(v[ov + vv]);
      float acc = 0.0f;
      for (int kk = 0; kk < K; kk++) {
        float* sp = S + (long long)kk * V + vv;
        const float kv = sk[kk] * vt;
        const float sv = fmaf(se[kk], *sp, kv);  // exp(g) * S + k v
        *sp = sv;
        acc = fmaf(sq[kk], sv, acc);
      }
      o[ov + vv] = from_f<T>(acc);
    }
    __syncthreads();  // the next token overwrites sq, sk, se
  }
}

// ======================================================================================================
// Chunked form, after flash-linear-attention's chunk_gla (fla/ops/gla/chunk.py: chunk_gla_fwd_intra_*,
// chunk_fwd_h, chunk_fwd_o), fused into one kernel per (sequence, head, value tile, key tile).
//
// A chunk of 64 tokens is cut into four 16-row sub-chunks. With gl = g * log2(e) (log2 space), per key:
//   c_r = sum of gl over the sub-chunk up to r (inclusive)   decay from the sub-chunk's start to row r
//   e_r = sum of gl over the sub-chunk after r               decay from row r to the sub-chunk's end
//   G_s = sum of gl over sub-chunk s; P_s, F_s the sums of G before and after s; B the chunk's total
// All of these are sums, never differences, so with gates <= 0 every exponent is <= 0 (no exp2 of a
// positive number is formed, nothing is masked after the fact), a gate of -inf gives factors of exactly 0
// rather than -inf - -inf = NaN, and no large cumulative sum costs the small ones their precision.
// Entering a chunk with state S (K x V), row i of sub-chunk s, j of sub-chunk J:
//   o_i   = (q_i scale 2^(P_s + c_i)) S                                   inter-chunk: Q1 S
//         + sum_{J < s} (q_i scale 2^c_i  2^(G between J and s)) . (k_j 2^e_j)  v_j   off-diagonal blocks
//         + sum_{j <= i in s} scale sum_k q_ik k_jk prod_{t=j+1..i} 2^gl_tk  v_j  diagonal blocks (SIMT)
//   S'    = diag(2^B) S + sum_j (k_j 2^(e_j + F_J))^T v_j                  state: K1^T V
// The diagonal sub-chunk blocks are float32 CUDA-core work: for column j a running product walks down the
// rows (k_j, then times 2^gl of each later row), one multiply per pair and key and no exp2 at all. The rest
// are tensor-core products (mma.m16n8k16 for f16/bf16, 3xTF32 mma.m16n8k8 for float32, float32 accumulation).
//
// Why one fused kernel (the state stays in registers across the sequence) rather than fla's two passes
// (chunk states h_c written to device memory, then an output pass over chunks in parallel): the chunk
// states are K x V per chunk, as large as q, k and v together at K = V = 128 in bf16 (twice that in
// float32), so writing and re-reading them would double the memory traffic of a bandwidth-bound kernel.
// The price is less parallelism: B*H*(value tiles)*(key tiles) blocks, each walking its sequence in order.
//
// Each block: one sequence n (blockIdx.z), head h (blockIdx.y), value tile vt and key tile kt (blockIdx.x =
// vt + nvt * kt, nvt = ceil(V / (16 W))). W = 4 or 8 warps (blockDim.x / 32); warp w owns values
// [16 w, 16 w + 16) of the tile and holds their state S^T (16 values x KT keys, float32) in mma accumulator
// registers across the whole sequence, stored transposed so that the accumulator fragments are, as they
// stand, the B operand of Q1 S. A key tile computes its keys' share of everything: o is linear in the key
// sum (A is a sum over keys too), so with several key tiles each writes float32 partial outputs that
// gla_chunk_reduce_<t> sums. Per chunk, between barriers: (1) per key, the gate sums, then the scaled
// operands Q1, Q2, K1, K2 and the token decays; (2) the diagonal blocks (all threads) and the six
// off-diagonal blocks (one warp each) into the score tile; (3) each warp's outputs and state update. The
// next chunk's g, then q and k, then v are copied in (16-byte cp.async where K, V allow) as soon as the
// phase that reads them is over, so the copies fly behind the rest of the chunk's work.
//
// gla_chunk_<t>_k<KT> arguments, in addition to the common ones:
//   o_part     null when K <= KT (o written directly), else float32 [ceil(K/KT), tokens, H, V] partial outputs
//              (o untouched)
//   h0         null (S_0 = 0) or float32 [N, H, K, V]
//   ht         null or float32 [N, H, K, V]: the final states (may be h0: each block reads its tile first)
// Launch contract:
//   grid  (ceil(V / (16 W)) * ceil(K / KT), H, N); H and N <= 65535; K * V < 2^31
//   block (32 W, 1, 1), W = 4 (64 values per block) or 8 (128)
//   dynamic shared memory: Layout<T, KT>::kBytes (GLAChunkSmem in cuda/backend mirrors it), above 48 KiB:
//   the caller raises the kernel's limit
// Instantiated for f16/bf16 with KT = 32, 64, 128 and f32 with KT = 32, 64 (float32 tiles of 128 keys do
// not fit in shared memory).
// ======================================================================================================

constexpr int kChunk = 64;  // tokens per chunk (fla's BT)
constexpr int kSub = 16;    // rows per sub-chunk (fla's BC)
constexpr int kSubs = kChunk / kSub;
constexpr int kLdA = kChunk + 8;  // row stride of the score tile: 16 bytes of padding for ldmatrix banks
constexpr float kLog2e = 1.4426950408889634f;

constexpr int kMaxWarps = 8;

// Shared-memory layout of a chunk block, in elements: seven [64][KT + 8] tiles of T (Q1, Q2, K1, K2 the
// mma operands; raw q, k, g staged from global memory), the [64][72] score tile A and the [64][136] value
// tile of T (room for 8 warps' values), then floats: [64][KT + 8] single-token decays and 8*KT per-key
// factors. Row strides end in 16 (or 32) bytes of padding, so that the 8 rows an ldmatrix (or a tf32
// fragment load) reads fall in distinct banks.
template <class T, int KT>
struct Layout {
  static constexpr int kLdT = KT + 8;
  static constexpr int kLdV = 16 * kMaxWarps + 8;
  static constexpr int kTile = kChunk * kLdT;
  static constexpr int kElems = 7 * kTile + kChunk * kLdA + kChunk * kLdV;  // of T
  static constexpr int kFloats = kTile + 8 * KT;
  static constexpr int kBytes = kElems * int(sizeof(T)) + kFloats * 4;
};

// ---- mma operand policies: fragments of row-major shared tiles ----
// f16/bf16: mma.m16n8k16, fragments by ldmatrix (PTX 9.7.14.5.15): x4 for A (matrices rows 0-7 / 8-15 by
// k 0-7 / 8-15), x2 for B, .trans where the tile is stored k-major for the operand.
template <class T>
struct HalfOps {
  static constexpr int kK = 16;
  struct A {
    uint32_t r[4];
  };
  struct B {
    uint32_t r[2];
  };
  static MM_DEVICE uint32_t pack(float lo, float hi);
  static MM_DEVICE float lo(uint32_t w);
  static MM_DEVICE float hi(uint32_t w);
  static MM_DEVICE void mma(float (&d)[4], const A& a, const B& b);

  // A[m][k] = s[(m0 + m) * ld + k0 + k].
  template <class P>
  static MM_DEVICE void load_a(A& a, P s, int ld, int m0, int k0, int lane) {
    const int mi = lane >> 3, r = lane & 7;
    mm::ldmatrix_x4<T>(a.r, s + (m0 + r + 8 * (mi & 1)) * ld + k0 + 8 * (mi >> 1));
  }
  // The same with column k scaled by f[k0 + k]: this lane holds columns 2t, 2t+1 (registers 0, 1) and
  // 2t+8, 2t+9 (registers 2, 3).
  template <class P, class F>
  static MM_DEVICE void load_a_scaled(A& a, P s, int ld, int m0, int k0, int lane, F f) {
    load_a(a, s, ld, m0, k0, lane);
    const int c = k0 + 2 * (lane & 3);
    const float f0 = f[c], f1 = f[c + 1], f2 = f[c + 8], f3 = f[c + 9];
    a.r[0] = pack(lo(a.r[0]) * f0, hi(a.r[0]) * f1);
    a.r[1] = pack(lo(a.r[1]) * f0, hi(a.r[1]) * f1);
    a.r[2] = pack(lo(a.r[2]) * f2, hi(a.r[2]) * f3);
    a.r[3] = pack(lo(a.r[3]) * f2, hi(a.r[3]) * f3);
  }
  // A[m][k] = s[(k0 + k) * ld + m0 + m] (the tile stored k-major).
  template <class P>
  static MM_DEVICE void load_a_t(A& a, P s, int ld, int m0, int k0, int lane) {
    const int mi = lane >> 3, r = lane & 7;
    mm::ldmatrix_x4_trans<T>(a.r, s + (k0 + r + 8 * (mi >> 1)) * ld + m0 + 8 * (mi & 1));
  }
  // B[k][n] = s[(n0 + n) * ld + k0 + k] (stored n-major: the column-major operand mma wants).
  template <class P>
  static MM_DEVICE void load_b_nk(B& b, P s, int ld, int n0, int k0, int lane) {
    mm::ldmatrix_x2<T>(b.r, s + (n0 + (lane & 7)) * ld + k0 + 8 * ((lane >> 3) & 1));
  }
  // B[k][n] = s[(k0 + k) * ld + n0 + n].
  template <class P>
  static MM_DEVICE void load_b_kn(B& b, P s, int ld, int k0, int n0, int lane) {
    mm::ldmatrix_x2_trans<T>(b.r, s + (k0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * ld + n0);
  }
  // B[k][n] = S[key = 16 ks + k][value = 8 vn + n] from the state's accumulators (S^T: rows values, columns
  // keys in n8 tiles): the accumulator's (row g, columns 2t, 2t+1) are B's (k 2t, 2t+1; n g), so tile 2ks
  // gives registers b0 b1 and tile 2ks+1 b2 b3, rows g (vn = 0: c0, c1) or g+8 (vn = 1: c2, c3).
  template <int NT>
  static MM_DEVICE void b_from_state(B& b, const float (&S)[NT][4], int ks, int vn) {
    b.r[0] = pack(S[2 * ks][2 * vn], S[2 * ks][2 * vn + 1]);
    b.r[1] = pack(S[2 * ks + 1][2 * vn], S[2 * ks + 1][2 * vn + 1]);
  }
};
template <>
MM_DEVICE uint32_t HalfOps<__half>::pack(float lo, float hi) {
  return mm::pack_half2(lo, hi);
}
template <>
MM_DEVICE float HalfOps<__half>::lo(uint32_t w) {
  return __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));
}
template <>
MM_DEVICE float HalfOps<__half>::hi(uint32_t w) {
  return __half2float(__ushort_as_half((unsigned short)(w >> 16)));
}
template <>
MM_DEVICE void HalfOps<__half>::mma(float (&d)[4], const A& a, const B& b) {
  mm::mma_m16n8k16_f16(d, a.r, b.r, d);
}
template <>
MM_DEVICE uint32_t HalfOps<__nv_bfloat16>::pack(float lo, float hi) {
  return mm::pack_bf162(lo, hi);
}
template <>
MM_DEVICE float HalfOps<__nv_bfloat16>::lo(uint32_t w) {
  return __uint_as_float(w << 16);
}
template <>
MM_DEVICE float HalfOps<__nv_bfloat16>::hi(uint32_t w) {
  return __uint_as_float(w & 0xffff0000u);
}
template <>
MM_DEVICE void HalfOps<__nv_bfloat16>::mma(float (&d)[4], const A& a, const B& b) {
  mm::mma_m16n8k16_bf16(d, a.r, b.r, d);
}

// float32: 3xTF32 (each operand split into a tf32 high part and a tf32 remainder, the product summed from
// hi*hi + hi*lo + lo*hi; CUTLASS's "fast accurate fp32" emulation) on mma.m16n8k8: about float32 accuracy
// on tensor cores, which the spec's 1e-4 needs (one tf32 rounding alone leaves ~3e-4). Within each depth
// step of 8 the mma index kappa stands for column 2*(kappa % 4) + kappa / 4 of the tiles (the same
// permutation on A and B, so the sum is unchanged): a lane's fragment is then two adjacent columns (one
// 8-byte load), and the state accumulators (columns 2t, 2t+1) are the B operand as they stand.
struct Tf32Ops {
  static constexpr int kK = 8;
  struct A {
    uint32_t hi[4], lo[4];
  };
  struct B {
    uint32_t hi[2], lo[2];
  };
  static MM_DEVICE void split(float x, uint32_t& h, uint32_t& l) {
    h = mm::to_tf32(x);
    l = mm::to_tf32(x - __uint_as_float(h));
  }
  static MM_DEVICE void mma(float (&d)[4], const A& a, const B& b) {
    mm::mma_m16n8k8_tf32(d, a.lo, b.hi, d);  // the small terms first
    mm::mma_m16n8k8_tf32(d, a.hi, b.lo, d);
    mm::mma_m16n8k8_tf32(d, a.hi, b.hi, d);
  }
  // Layout (PTX 9.7.14.5.7): a0 (row g, kappa t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4).
  static MM_DEVICE void set_a(A& a, float x00, float x10, float x01, float x11) {
    split(x00, a.hi[0], a.lo[0]);
    split(x10, a.hi[1], a.lo[1]);
    split(x01, a.hi[2], a.lo[2]);
    split(x11, a.hi[3], a.lo[3]);
  }
  template <class P>
  static MM_DEVICE void load_a(A& a, P s, int ld, int m0, int k0, int lane) {
    const int g = lane >> 2, c = k0 + 2 * (lane & 3);
    const float2 r0 = mm::load_vec<float2>(s + (m0 + g) * ld + c);
    const float2 r1 = mm::load_vec<float2>(s + (m0 + g + 8) * ld + c);
    set_a(a, r0.x, r1.x, r0.y, r1.y);
  }
  template <class P, class F>
  static MM_DEVICE void load_a_scaled(A& a, P s, int ld, int m0, int k0, int lane, F f) {
    const int g = lane >> 2, c = k0 + 2 * (lane & 3);
    const float f0 = f[c], f1 = f[c + 1];
    const float2 r0 = mm::load_vec<float2>(s + (m0 + g) * ld + c);
    const float2 r1 = mm::load_vec<float2>(s + (m0 + g + 8) * ld + c);
    set_a(a, r0.x * f0, r1.x * f0, r0.y * f1, r1.y * f1);
  }
  template <class P>
  static MM_DEVICE void load_a_t(A& a, P s, int ld, int m0, int k0, int lane) {
    const int g = lane >> 2, c = k0 + 2 * (lane & 3);
    const float x00 = s[c * ld + m0 + g], x10 = s[c * ld + m0 + g + 8];
    const float x01 = s[(c + 1) * ld + m0 + g], x11 = s[(c + 1) * ld + m0 + g + 8];
    set_a(a, x00, x10, x01, x11);
  }
  // b0 (kappa t, n g), b1 (kappa t+4, n g).
  template <class P>
  static MM_DEVICE void load_b_nk(B& b, P s, int ld, int n0, int k0, int lane) {
    const float2 r = mm::load_vec<float2>(s + (n0 + (lane >> 2)) * ld + k0 + 2 * (lane & 3));
    split(r.x, b.hi[0], b.lo[0]);
    split(r.y, b.hi[1], b.lo[1]);
  }
  template <class P>
  static MM_DEVICE void load_b_kn(B& b, P s, int ld, int k0, int n0, int lane) {
    const int c = k0 + 2 * (lane & 3), n = n0 + (lane >> 2);
    const float x0 = s[c * ld + n], x1 = s[(c + 1) * ld + n];
    split(x0, b.hi[0], b.lo[0]);
    split(x1, b.hi[1], b.lo[1]);
  }
  // One key tile per depth step: (row g, columns 2t, 2t+1) of tile ks are B's (kappa t, t+4; n g).
  template <int NT>
  static MM_DEVICE void b_from_state(B& b, const float (&S)[NT][4], int ks, int vn) {
    split(S[ks][2 * vn], b.hi[0], b.lo[0]);
    split(S[ks][2 * vn + 1], b.hi[1], b.lo[1]);
  }
};

template <class T>
struct OpsFor {
  using type = HalfOps<T>;
};
template <>
struct OpsFor<float> {
  using type = Tf32Ops;
};

// Four consecutive elements of a shared tile as float (8- or 16-byte aligned).
MM_DEVICE void load4(float (&x)[4], mm::smem_ptr<float> p) {
  const float4 v = mm::load_vec<float4>(p);
  x[0] = v.x, x[1] = v.y, x[2] = v.z, x[3] = v.w;
}
template <class T>
MM_DEVICE void load4(float (&x)[4], mm::smem_ptr<T> p) {
  const uint2 v = mm::load_vec<uint2>(p);
  x[0] = HalfOps<T>::lo(v.x), x[1] = HalfOps<T>::hi(v.x), x[2] = HalfOps<T>::lo(v.y), x[3] = HalfOps<T>::hi(v.y);
}
// Two adjacent accumulator elements into a row-major tile (the column even).
MM_DEVICE void store2(mm::smem_ptr<float> p, float a, float b) { mm::store_vec(p, make_float2(a, b)); }
template <class T>
MM_DEVICE void store2(mm::smem_ptr<T> p, float a, float b) {
  mm::store_vec(mm::smem_cast<uint32_t>(p), HalfOps<T>::pack(a, b));
}

// Two adjacent outputs to global memory (p aligned to the pair).
MM_DEVICE void store_pair(float* p, float a, float b) { mm::store_vec(p, make_float2(a, b)); }
template <class T>
MM_DEVICE void store_pair(T* p, float a, float b) {
  mm::store_vec(p, HalfOps<T>::pack(a, b));
}

// Stages rows [t0, t0 + L) of x (row r at x + ((t0 + r) * H + h) * ld + c0) into s[r * Lds + c], c < width:
// columns c >= nc and rows r >= L (up to the chunk's 64) are zeros. vec: 16-byte cp.async copies (every
// row start and nc a multiple of 16 bytes), completed by the cp_async_wait_all at the top of the chunk
// loop; else plain element copies.
// The loops stay rolled: the chunk loop inlines this at eight sites (four tiles, staged before the loop
// and behind the work), and unrolled copies would be most of the kernel's code.
template <class T, int Lds>
MM_DEVICE void stage(mm::smem_ptr<T> s, const T* x, long long t0, int L, int H, int h, int ld, int c0, int width,
                     int nc, bool vec, int tid, int nthreads) {
  constexpr int E = 16 / int(sizeof(T));
  if (vec) {
    const int per_row = width / E;
    GLA_ROLLED
    for (int i = tid; i < kChunk * per_row; i += nthreads) {
      const int r = i / per_row, c = (i % per_row) * E;
      const bool ok = r < L && c < nc;
      const T* src = ok ? x + ((t0 + r) * H + h) * (long long)ld + c0 + c : x;
      mm::cp_async_16_zfill<T>(s + r * Lds + c, src, ok);
    }
  } else {
    GLA_ROLLED
    for (int i = tid; i < kChunk * width; i += nthreads) {
      const int r = i / width, c = i % width;
      T val = from_f<T>(0.0f);
      if (r < L && c < nc) val = x[((t0 + r) * H + h) * (long long)ld + c0 + c];
      s[r * Lds + c] = val;
    }
  }
}

template <class T, int KT>
MM_DEVICE void chunk_fwd(const T* q, const T* k, const T* v, const T* g, T* o, float* o_part, const float* h0,
                         float* ht, const int* cu32, const long long* cu64, int T_, int H, int K, int V, float scale) {
  using Ops = typename OpsFor<T>::type;
  using L = Layout<T, KT>;
  constexpr int LDT = L::kLdT, LDV = L::kLdV;
  constexpr int KK = Ops::kK;
  constexpr int NKS = KT / KK;  // depth steps over the keys
  constexpr int NKN = KT / 8;   // n8 key tiles of the state
  static_assert(KT % 16 == 0 && KT <= 128, "key tile");
  static_assert(L::kBytes <= 227 * 1024, "shared memory beyond sm_90's 227 KiB per block");
  const int W = blockDim.x >> 5, NT = blockDim.x, BV = 16 * W;
  const int NG = NT / KT;  // thread groups over the sub-chunks in the per-key passes

  MM_DYNAMIC_SHARED(T, smem);
  const auto sQ1 = smem;                    // q scale 2^(P_s + c): the inter-chunk operand
  const auto sQ2 = sQ1 + L::kTile;          // q scale 2^c: the off-diagonal operand
  const auto sK1 = sQ2 + L::kTile;          // k 2^(e + F_J): the state-update operand
  const auto sK2 = sK1 + L::kTile;          // k 2^e: the off-diagonal operand
  const auto sQr = sK2 + L::kTile;          // raw q, k, g of the chunk
  const auto sKr = sQr + L::kTile;
  const auto sGr = sKr + L::kTile;
  const auto sA = sGr + L::kTile;           // [64][kLdA] scores, lower block triangle
  const auto sV = sA + kChunk * kLdA;       // [64][LDV] the value tile
  const auto sAd = mm::smem_cast<float>(sV + kChunk * LDV);  // [64][LDT] 2^gl of each token
  const auto sGs = sAd + L::kTile;          // [4][KT] sub-chunk gate totals G_s
  const auto sDec = sGs + kSubs * KT;       // [4][KT] 2^G_1, 2^G_2, 2^(G_1+G_2), 2^B

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int gq = lane >> 2, tq = lane & 3;
  const int nvt = (V + BV - 1) / BV;
  const int vt = blockIdx.x % nvt, kt = blockIdx.x / nvt;
  const int h = blockIdx.y, n = blockIdx.z;
  const int k0 = kt * KT, nk = min(KT, K - k0), v0 = vt * BV;
  const int vw = v0 + 16 * warp;  // this warp's first value
  const bool active = vw < V;     // warp-uniform: a warp past the last value only helps with the shared work
  long long bos, eos;
  sequence(cu32, cu64, n, T_, bos, eos);
  const long long tokens = cu64 ? cu64[gridDim.z] : cu32 ? (long long)cu32[gridDim.z] : (long long)gridDim.z * T_;
  constexpr int E = 16 / int(sizeof(T));
  const bool vec_k = K % E == 0, vec_v = V % E == 0, pair_o = V % 2 == 0;

  // The state S^T: tile kn holds values vw + (g, g+8) by keys k0 + 8 kn + (2t, 2t+1).
  // The state S^T: element (kn, i) of a lane is key k0 + 8 kn + 2t + (i & 1), value vw + g + 8 (i >> 1),
  // at lane_off + (8 kn + (i & 1)) V + 8 (i >> 1) in h0 and ht; it exists when 8 kn + (i & 1) < klim and
  // 8 (i >> 1) < vlim.
  const long long lane_off = ((long long)n * H + h) * K * V + (long long)(k0 + 2 * tq) * V + vw + gq;
  const int klim = K - k0 - 2 * tq, vlim = V - vw - gq;
  float S[NKN][4];
  MM_UNROLL
  for (int kn = 0; kn < NKN; kn++)
    MM_UNROLL
    for (int i = 0; i < 4; i++) {
      const int kr = 8 * kn + (i & 1), vc = 8 * (i >> 1);
      S[kn][i] = h0 && active && kr < klim && vc < vlim ? h0[lane_off + kr * V + vc] : 0.0f;
    }

  if (bos < eos) {
    const int L0 = (int)min((long long)kChunk, eos - bos);
    stage<T, LDT>(sQr, q, bos, L0, H, h, K, k0, KT, nk, vec_k, tid, NT);
    stage<T, LDT>(sKr, k, bos, L0, H, h, K, k0, KT, nk, vec_k, tid, NT);
    stage<T, LDT>(sGr, g, bos, L0, H, h, K, k0, KT, nk, vec_k, tid, NT);
    stage<T, LDV>(sV, v, bos, L0, H, h, V, v0, BV, min(BV, V - v0), vec_v, tid, NT);
    mm::cp_async_commit();
  }
  for (long long t0 = bos; t0 < eos; t0 += kChunk) {
    const int Lc = (int)min((long long)kChunk, eos - t0);
    const int NS = (Lc + kSub - 1) / kSub;
    const long long tn = t0 + kChunk;  // the next chunk, staged behind the work on this one
    const int Ln = tn < eos ? (int)min((long long)kChunk, eos - tn) : 0;
    mm::cp_async_wait_all();
    __syncthreads();

    // ---- per key: gate sums, factors, the scaled operands (thread: key tid % KT, sub-chunks tid / KT + NG i) ----
    const int pkey = tid % KT, pgrp = tid / KT;
    for (int s = pgrp; s < NS; s += NG) {
      float G = 0.0f;
      for (int r = 0; r < kSub; r++) G += ldf(sGr, (kSub * s + r) * LDT + pkey) * kLog2e;
      sGs[s * KT + pkey] = G;
    }
    __syncthreads();
    {
      float G[kSubs];
      MM_UNROLL
      for (int s = 0; s < kSubs; s++) G[s] = s < NS ? float(sGs[s * KT + pkey]) : 0.0f;
      if (pgrp == 0) {
        sDec[pkey] = exp2f(G[1]);
        sDec[KT + pkey] = exp2f(G[2]);
        sDec[2 * KT + pkey] = exp2f(G[1] + G[2]);
        sDec[3 * KT + pkey] = exp2f(G[0] + G[1] + G[2] + G[3]);
      }
      for (int s = pgrp; s < NS; s += NG) {
        float pre = 0.0f, suf = 0.0f;
        MM_UNROLL
        for (int u = 0; u < kSubs; u++) {
          if (u < s) pre += G[u];
          if (u > s) suf += G[u];
        }
        const float fq = exp2f(pre), fk = exp2f(suf);
        float c = 0.0f;
        GLA_ROLLED
        for (int r = 0; r < kSub; r++) {
          const int idx = (kSub * s + r) * LDT + pkey;
          const float gl = ldf(sGr, idx) * kLog2e;
          c += gl;
          const float qs = ldf(sQr, idx) * scale * exp2f(c);
          sQ2[idx] = from_f<T>(qs);
          sQ1[idx] = from_f<T>(qs * fq);
          sAd[idx] = exp2f(gl);
        }
        float e = 0.0f;
        GLA_ROLLED
        for (int r = kSub - 1; r >= 0; r--) {
          const int idx = (kSub * s + r) * LDT + pkey;
          const float ks = ldf(sKr, idx) * exp2f(e);
          sK2[idx] = from_f<T>(ks);
          sK1[idx] = from_f<T>(ks * fk);
          e += ldf(sGr, idx) * kLog2e;
        }
      }
    }
    __syncthreads();
    if (Ln > 0) {  // g is consumed: stage the next chunk's
      stage<T, LDT>(sGr, g, tn, Ln, H, h, K, k0, KT, nk, vec_k, tid, NT);
      mm::cp_async_commit();
    }

    // ---- diagonal sub-chunk blocks, float32: thread (column j, key group kg of 8), 4 keys per vector ----
    {
      constexpr int NV = (KT + 31) / 32;
      const int j = (tid >> 3) & 15, kg = tid & 7, jw = j & ~3;  // jw: the warp's first column
      for (int s = tid >> 7; s < NS; s += NT / 128) {
        const int base = kSub * s;
        float kp[NV][4];  // k_j times the decay from row j to the current row
        MM_UNROLL
        for (int m = 0; m < NV; m++) {
          const int key = 4 * kg + 32 * m;
          if (key < KT) {
            load4(kp[m], sKr + (base + j) * LDT + key);
          } else {
            kp[m][0] = kp[m][1] = kp[m][2] = kp[m][3] = 0.0f;
          }
        }
        if (kg == 0)
          for (int i = 0; i < jw; i++) sA[(base + i) * kLdA + base + j] = from_f<T>(0.0f);
        for (int i = jw; i < kSub; i++) {  // the same rows for the whole warp: loads are broadcasts
          const int row = (base + i) * LDT;
          float sum = 0.0f;
          MM_UNROLL
          for (int m = 0; m < NV; m++) {
            const int key = 4 * kg + 32 * m;
            if (key < KT && i >= j) {
              if (i > j) {
                float a[4];
                load4(a, sAd + row + key);
                MM_UNROLL
                for (int e = 0; e < 4; e++) kp[m][e] *= a[e];
              }
              float x[4];
              load4(x, sQr + row + key);
              MM_UNROLL
              for (int e = 0; e < 4; e++) sum = fmaf(x[e], kp[m][e], sum);
            }
          }
          sum += __shfl_xor_sync(0xffffffffu, sum, 1);
          sum += __shfl_xor_sync(0xffffffffu, sum, 2);
          sum += __shfl_xor_sync(0xffffffffu, sum, 4);
          if (kg == 0) sA[(base + i) * kLdA + base + j] = from_f<T>(i >= j ? sum * scale : 0.0f);
        }
      }
    }
    // ---- off-diagonal blocks (s, J), J < s, on tensor cores: (Q2_s * 2^(G between)) K2_J^T ----
    for (int p = warp; p < 6; p += W) {
      const int s = p < 1 ? 1 : p < 3 ? 2 : 3;
      const int J = p - (s * (s - 1)) / 2;
      if (s >= NS) continue;  // warp-uniform
      float acc[2][4] = {};
      for (int ks = 0; ks < NKS && ks * KK < nk; ks++) {
        typename Ops::A a;
        if (s - J == 1)
          Ops::load_a(a, sQ2, LDT, kSub * s, ks * KK, lane);
        else  // (2,0): 2^G_1; (3,1): 2^G_2; (3,0): 2^(G_1+G_2)
          Ops::load_a_scaled(a, sQ2, LDT, kSub * s, ks * KK, lane, sDec + (s == 2 ? 0 : J == 1 ? KT : 2 * KT));
        MM_UNROLL
        for (int nt = 0; nt < 2; nt++) {
          typename Ops::B b;
          Ops::load_b_nk(b, sK2, LDT, kSub * J + 8 * nt, ks * KK, lane);
          Ops::mma(acc[nt], a, b);
        }
      }
      MM_UNROLL
      for (int nt = 0; nt < 2; nt++)
        MM_UNROLL
        for (int hf = 0; hf < 2; hf++)
          store2(sA + (kSub * s + gq + 8 * hf) * kLdA + kSub * J + 8 * nt + 2 * tq, acc[nt][2 * hf],
                 acc[nt][2 * hf + 1]);
    }
    __syncthreads();
    if (Ln > 0) {  // q and k are consumed: stage the next chunk's
      stage<T, LDT>(sQr, q, tn, Ln, H, h, K, k0, KT, nk, vec_k, tid, NT);
      stage<T, LDT>(sKr, k, tn, Ln, H, h, K, k0, KT, nk, vec_k, tid, NT);
      mm::cp_async_commit();
    }

    if (active) {
      // ---- output rows of sub-chunk s: Q1_s S + sum_{J <= s} A[s][J] V_J ----
      for (int s = 0; s < NS; s++) {
        float acc[2][4] = {};
        MM_UNROLL
        for (int ks = 0; ks < NKS; ks++) {
          if (ks * KK < nk) {
            typename Ops::A a;
            Ops::load_a(a, sQ1, LDT, kSub * s, ks * KK, lane);
            MM_UNROLL
            for (int vn = 0; vn < 2; vn++) {
              typename Ops::B b;
              Ops::b_from_state(b, S, ks, vn);
              Ops::mma(acc[vn], a, b);
            }
          }
        }
        for (int J = 0; J <= s; J++) {
          MM_UNROLL
          for (int kk = 0; kk < kSub / KK; kk++) {
            typename Ops::A a;
            Ops::load_a(a, sA, kLdA, kSub * s, kSub * J + kk * KK, lane);
            MM_UNROLL
            for (int vn = 0; vn < 2; vn++) {
              typename Ops::B b;
              Ops::load_b_kn(b, sV, LDV, kSub * J + kk * KK, 16 * warp + 8 * vn, lane);
              Ops::mma(acc[vn], a, b);
            }
          }
        }
        MM_UNROLL
        for (int vn = 0; vn < 2; vn++)
          MM_UNROLL
          for (int hf = 0; hf < 2; hf++) {  // rows g, g + 8; columns 2t, 2t + 1 (a pair store when V is even)
            const int row = kSub * s + gq + 8 * hf, col = vw + 8 * vn + 2 * tq;
            if (row >= Lc || col >= V) continue;
            const long long idx = ((t0 + row) * H + h) * (long long)V + col;
            const float x0 = acc[vn][2 * hf], x1 = acc[vn][2 * hf + 1];
            if (o_part) {
              float* p = o_part + kt * tokens * H * V + idx;
              if (pair_o)
                mm::store_vec(p, make_float2(x0, x1));
              else {
                p[0] = x0;
                if (col + 1 < V) p[1] = x1;
              }
            } else if (pair_o) {
              store_pair(o + idx, x0, x1);
            } else {
              o[idx] = from_f<T>(x0);
              if (col + 1 < V) o[idx + 1] = from_f<T>(x1);
            }
          }
      }
      // ---- state: S^T = S^T diag(2^B) + V^T K1 ----
      MM_UNROLL
      for (int kn = 0; kn < NKN; kn++) {
        const float d0 = sDec[3 * KT + 8 * kn + 2 * tq], d1 = sDec[3 * KT + 8 * kn + 2 * tq + 1];
        S[kn][0] *= d0, S[kn][1] *= d1, S[kn][2] *= d0, S[kn][3] *= d1;
      }
      for (int s = 0; s < NS; s++) {
        MM_UNROLL
        for (int kk = 0; kk < kSub / KK; kk++) {
          typename Ops::A a;
          Ops::load_a_t(a, sV, LDV, 16 * warp, kSub * s + kk * KK, lane);
          MM_UNROLL
          for (int kn = 0; kn < NKN; kn++) {
            if (8 * kn < nk) {
              typename Ops::B b;
              Ops::load_b_kn(b, sK1, LDT, kSub * s + kk * KK, 8 * kn, lane);
              Ops::mma(S[kn], a, b);
            }
          }
        }
      }
    }
    __syncthreads();
    if (Ln > 0) {  // v is consumed: stage the next chunk's
      stage<T, LDV>(sV, v, tn, Ln, H, h, V, v0, BV, min(BV, V - v0), vec_v, tid, NT);
      mm::cp_async_commit();
    }
  }

  if (ht && active) {
    MM_UNROLL
    for (int kn = 0; kn < NKN; kn++)
      MM_UNROLL
      for (int i = 0; i < 4; i++) {
        const int kr = 8 * kn + (i & 1), vc = 8 * (i >> 1);
        if (kr < klim && vc < vlim) ht[lane_off + kr * V + vc] = S[kn][i];
      }
  }
}

// o[i] = the sum over key tiles of part[kt * total + i], in tile order (deterministic).
template <class T>
MM_DEVICE void chunk_reduce(const float* part, T* o, long long total, int tiles) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int t = 0; t < tiles; t++) s += part[t * total + i];
    o[i] = from_f<T>(s);
  }
}

}  // namespace gla

// ---- recurrent ----
extern "C" __global__ void gla_recurrent_f32(const float* q, const float* k, const float* v, const float* g, float* o, float* state, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale, int load_state)
{
  gla::recurrent<float>(q, k, v, g, o, state, cu_seqlens32, cu_seqlens64, T, H, K, V, scale, load_state);
}
extern "C" __global__ void gla_recurrent_f16(const __half* q, const __half* k, const __half* v, const __half* g, __half* o, float* state, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale, int load_state)
{
  gla::recurrent<__half>(q, k, v, g, o, state, cu_seqlens32, cu_seqlens64, T, H, K, V, scale, load_state);
}
extern "C" __global__ void gla_recurrent_bf16(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* g, __nv_bfloat16* o, float* state, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale, int load_state)
{
  gla::recurrent<__nv_bfloat16>(q, k, v, g, o, state, cu_seqlens32, cu_seqlens64, T, H, K, V, scale, load_state);
}

// ---- chunked: float32 (3xTF32) ----
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_f32_k32(const float* q, const float* k, const float* v, const float* g, float* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<float, 32>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_f32_k64(const float* q, const float* k, const float* v, const float* g, float* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<float, 64>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}

// ---- chunked: float16 ----
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_f16_k32(const __half* q, const __half* k, const __half* v, const __half* g, __half* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__half, 32>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_f16_k64(const __half* q, const __half* k, const __half* v, const __half* g, __half* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__half, 64>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_f16_k128(const __half* q, const __half* k, const __half* v, const __half* g, __half* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__half, 128>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}

// ---- chunked: bfloat16 ----
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_bf16_k32(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* g, __nv_bfloat16* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__nv_bfloat16, 32>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_bf16_k64(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* g, __nv_bfloat16* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__nv_bfloat16, 64>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}
extern "C" __global__ void __launch_bounds__(256, 1) gla_chunk_bf16_k128(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* g, __nv_bfloat16* o, float* o_part, const float* h0, float* ht, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale)
{
  gla::chunk_fwd<__nv_bfloat16, 128>(q, k, v, g, o, o_part, h0, ht, cu_seqlens32, cu_seqlens64, T, H, K, V, scale);
}

// ---- reduction of key-tile partial outputs: any 1-D grid and block ----
extern "C" __global__ void gla_chunk_reduce_f32(const float* part, float* o, long long total, int tiles)
{
  gla::chunk_reduce<float>(part, o, total, tiles);
}
extern "C" __global__ void gla_chunk_reduce_f16(const float* part, __half* o, long long total, int tiles)
{
  gla::chunk_reduce<__half>(part, o, total, tiles);
}
extern "C" __global__ void gla_chunk_reduce_bf16(const float* part, __nv_bfloat16* o, long long total, int tiles)
{
  gla::chunk_reduce<__nv_bfloat16>(part, o, total, tiles);
}
