// Monarch forward, float32: the plain, correct kernel (a fast one is its own issue).
//
// Semantics (fly convention, /work/shared/spec/workloads.md "Monarch"): x (batch, n = k*p),
// w1 (k, q, p), w2 (l, s, r) with l*r == k*q, y (batch, m = l*s), all row-major float32:
//   y1[b, kk, qq]  = sum_pp w1[kk, qq, pp] * x[b, kk*p + pp]        (block-diagonal 1)
//   z[b, ll, rr]   = y1 flattened as (r, l), i.e. y1flat[b, rr*l + ll]   (permutation (r l) -> (l r))
//   y2[b, ll, ss]  = sum_rr w2[ll, ss, rr] * z[b, ll, rr]           (block-diagonal 2)
//   y[b, ss*l + ll] = y2[b, ll, ss]                                  (output order (l s) -> (s l))
// as fly's blockdiag_butterfly_multiply_reference.
//
// Launch contract:
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
