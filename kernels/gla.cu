// Gated linear attention, recurrent form, float32: one token at a time (the decode step, or a whole
// sequence run recurrently). The plain, correct kernel; the chunked form is its own issue.
//
// Semantics (flash-linear-attention's naive_recurrent_gla, /work/shared/spec/workloads.md "GLA"):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,   o_t = scale * q_t S_t   (S is K x V, float32)
//
// Arguments (all row-major float32 unless noted):
//   q, k, g   [tokens, H, K]   tokens = B*T (batch-major, [B, T, H, K] flattened) or the packed
//                              varlen tokens (B = 1) when cu_seqlens is given
//   v, o      [tokens, H, V]   o is written for every token of every sequence
//   state     [N, H, K, V]     required. In: S_0 of sequence n when load_state != 0 (h0 / the decode
//                              state), ignored otherwise (S_0 = 0). Out: S_T, the final state (ht).
//                              Updated in place; pass a scratch buffer when no final state is wanted.
//   cu_seqlens32, cu_seqlens64 at most one non-null: [N+1] sequence offsets into the tokens (int32 or
//                              int64, starting at 0, non-decreasing); both null: N = B sequences of T
//                              tokens each
//   T          tokens per sequence when both cu_seqlens are null (unused otherwise)
//   H, K, V    heads, key and value dimensions (any >= 1)
//   scale      the query scale (the caller resolves the default K^-0.5)
//   load_state 1: read S_0 from state; 0: start from zeros
// Launch contract:
//   grid  (H, N, 1): block (h, n) runs head h of sequence n (N <= 65535)
//   block (B, 1, 1), any B in 1..1024: thread j owns the state columns j, j + B, ... (128 is a good default)
//   dynamic shared memory: 3*K*sizeof(float) bytes (the token's scaled q, k and exp(g))
// The decode step is T = 1, load_state = 1, with q, k, g as [B, H, K] and v, o as [B, H, V].
#include "include/mm_cuda.h"

extern "C" __global__ void gla_recurrent_f32(const float* q, const float* k, const float* v, const float* g, float* o, float* state, const int* cu_seqlens32, const long long* cu_seqlens64, int T, int H, int K, int V, float scale, int load_state)
{
  MM_DYNAMIC_SHARED(float, tok);  // [3][K]: q*scale, k, exp(g) of the current token
  const auto sq = tok;
  const auto sk = tok + K;
  const auto se = tok + 2 * K;
  const int h = blockIdx.x, n = blockIdx.y;
  long long bos, eos;
  if (cu_seqlens64) {
    bos = cu_seqlens64[n];
    eos = cu_seqlens64[n + 1];
  } else if (cu_seqlens32) {
    bos = cu_seqlens32[n];
    eos = cu_seqlens32[n + 1];
  } else {
    bos = (long long)n * T;
    eos = bos + T;
  }
  // The state lives in global memory: thread j only ever touches columns j (mod blockDim.x), so no
  // barrier guards it; for a decode step this is one read and one write of S, the minimum.
  float* S = state + ((long long)n * H + h) * K * V;
  if (!load_state)
    for (int kk = 0; kk < K; kk++)
      for (int vv = threadIdx.x; vv < V; vv += blockDim.x) S[(long long)kk * V + vv] = 0.0f;
  for (long long t = bos; t < eos; t++) {
    const long long qk = (t * H + h) * K;
    for (int i = threadIdx.x; i < K; i += blockDim.x) {
      sq[i] = q[qk + i] * scale;
      sk[i] = k[qk + i];
      se[i] = expf(g[qk + i]);
    }
    __syncthreads();
    const long long ov = (t * H + h) * V;
    for (int vv = threadIdx.x; vv < V; vv += blockDim.x) {
      const float vt = v[ov + vv];
      float acc = 0.0f;
      for (int kk = 0; kk < K; kk++) {
        float* sp = S + (long long)kk * V + vv;
        const float kv = sk[kk] * vt;
        const float sv = fmaf(se[kk], *sp, kv);  // exp(g) * S + k v
        *sp = sv;
        acc = fmaf(sq[kk], sv, acc);
      }
      o[ov + vv] = acc;
    }
    __syncthreads();  // the next token overwrites sq, sk, se
  }
}
