// SpGEMM C = A*B, Gustavson row-wise, CSR (row pointers int64, column indices int32, values float32 or
// float64), in two phases as the GPU SpGEMM literature does it (nsparse: Nagasaka et al. 2017; spECK:
// Parger et al. 2020; OpSparse: Du et al. 2022); read to learn, nothing copied:
//
//   count  (symbolic) every row's exact nnz: its columns are inserted into a hash table of keys
//          (open addressing, linear probing, atomicCAS), and each thread adds the keys it inserted first
//          to nnz[row] (one global atomicAdd per thread)
//   fill   (numeric) the same insertion with a value slot per key, the partial products added with
//          atomicAdd (SMASH's merge by atomics, Kanellopoulos et al. 2019), then the table bitonic-sorted
//          by column (empty slots hold kEmpty = INT_MAX, above every column, so they sort last) and its
//          first nnz entries written to C in order
//
// The host (cuda/backend/spgemm*.go) bins the rows by their bound (count: min(work, columns of B); fill:
// the exact nnz) and scans the counts into C's row pointers. A table has S = 2^log2s slots, at least twice
// the row's bound, so probes stay short and it never fills.
//
// Launch contracts (block = blockDim.x threads, every kernel 1-D):
//   spgemm_count_shared, spgemm_fill_shared_<t>: `rows_per_block` rows a block, each owned by a group of
//       blockDim.x / rows_per_block threads (blockDim.x a multiple of rows_per_block) with a table of S
//       slots in dynamic shared memory: S * rows_per_block * 4 bytes (count) or * (4 + sizeof(t)) (fill,
//       keys then values); grid = ceil(nrows / rows_per_block).
//   spgemm_count_global, spgemm_fill_global_<t>: one block a row, the whole block on it, its table in
//       global memory: table (and tvals) hold gridDim.x * S entries, block b using [b*S, (b+1)*S); blocks
//       stride over the rows, so any grid >= 1 works; no dynamic shared memory.
//   rows lists the nrows rows (indices into A) of the launch; nnz (count) must be zero before the first
//   count launch; crp are C's row pointers (fill), and each listed row must have exactly nnz = crp[row+1] -
//   crp[row] <= S/2 distinct columns.
#include "include/mm_cuda.h"

namespace spgemm {

constexpr int kEmpty = 0x7fffffff;  // above every column index (columns are < 2^31 - 1)

// slot0 is a column's first slot: Knuth's multiplicative hash. The odd multiplier is a bijection on the
// low bits, so up to S consecutive columns (banded rows) land in distinct slots.
MM_DEVICE unsigned slot0(int col, unsigned mask) { return (unsigned(col) * 2654435761u) & mask; }

// insert finds col's slot, claiming an empty one for it; fresh says whether this call claimed it. Only
// atomics touch the keys until the next barrier.
template <class KP>
MM_DEVICE unsigned insert(KP keys, unsigned mask, int col, bool& fresh) {
  for (unsigned h = slot0(col, mask);; h = (h + 1) & mask) {
    const int old = atomicCAS(keys + h, kEmpty, col);
    if (old == kEmpty || old == col) {
      fresh = old == kEmpty;
      return h;
    }
  }
}

// fill sets n slots of a table (keys to kEmpty, values to 0), the group's g lanes striding over them.
template <class P, class T>
MM_DEVICE void fill(P p, unsigned n, T v, int lane, int g) {
  for (unsigned i = lane; i < n; i += g) p[i] = v;
}

// count_row inserts row's columns into keys and returns how many this lane inserted first. The group's g
// lanes take A's entries one after another and stride over each B row.
template <class KP>
MM_DEVICE int count_row(KP keys, unsigned mask, const long long* arp, const int* acol, const long long* brp,
                        const int* bcol, int row, int lane, int g) {
  int n = 0;
  for (long long p = arp[row]; p < arp[row + 1]; p++) {
    const int k = acol[p];
    for (long long q = brp[k] + lane; q < brp[k + 1]; q += g) {
      bool fresh;
      insert(keys, mask, bcol[q], fresh);
      n += fresh;
    }
  }
  return n;
}

// fill_row: the numeric phase of one row by a group of g lanes (every lane of the block calls it: it
// holds the block's barriers). valid is false for a group without a row (the last block of a shared
// launch); its table is sorted empty and nothing is written.
template <class T, class KP, class VP>
MM_DEVICE void fill_row(KP keys, VP vals, int log2s, bool valid, int row, int lane, int g, const long long* arp,
                        const int* acol, const T* aval, const long long* brp, const int* bcol, const T* bval,
                        const long long* crp, int* ccol, T* cval) {
  const unsigned S = 1u << log2s, mask = S - 1;
  fill(keys, S, kEmpty, lane, g);
  fill(vals, S, T(0), lane, g);
  __syncthreads();
  if (valid) {
    for (long long p = arp[row]; p < arp[row + 1]; p++) {
      const int k = acol[p];
      const T a = aval[p];
      for (long long q = brp[k] + lane; q < brp[k + 1]; q += g) {
        bool fresh;
        const unsigned h = insert(keys, mask, bcol[q], fresh);
        atomicAdd(vals + h, a * bval[q]);
      }
    }
  }
  __syncthreads();
  // Bitonic sort of each table by key, ascending (directions from the index within the table, so every
  // table of a block sorts the same way): log2s * (log2s + 1) / 2 steps, a barrier after each.
  for (unsigned k = 2; k <= S; k <<= 1) {
    for (unsigned j = k >> 1; j > 0; j >>= 1) {
      for (unsigned i = lane; i < S; i += g) {
        const unsigned l = i ^ j;
        if (l > i) {
          const int ki = keys[i], kl = keys[l];
          if ((ki > kl) == ((i & k) == 0)) {
            const T vi = vals[i], vl = vals[l];
            keys[i] = kl;
            keys[l] = ki;
            vals[i] = vl;
            vals[l] = vi;
          }
        }
      }
      __syncthreads();
    }
  }
  if (valid) {
    const long long base = crp[row];
    const int n = int(crp[row + 1] - base);
    for (int i = lane; i < n; i += g) {
      const int key = keys[i];
      const T v = vals[i];
      ccol[base + i] = key;
      cval[base + i] = v;
    }
  }
  __syncthreads();  // the table is reused by the block's next row (global kernels)
}

template <class T>
MM_DEVICE void fill_shared(const long long* arp, const int* acol, const T* aval, const long long* brp, const int* bcol,
                           const T* bval, const int* rows, int nrows, int log2s, int rows_per_block,
                           const long long* crp, int* ccol, T* cval) {
  MM_DYNAMIC_SHARED(int, keys);  // [rows_per_block][S] keys, then [rows_per_block][S] values
  const int S = 1 << log2s, g = blockDim.x / rows_per_block;
  const int r = threadIdx.x / g, lane = threadIdx.x % g;
  const auto vals = mm::smem_cast<T, int>(keys + S * rows_per_block);
  const int idx = blockIdx.x * rows_per_block + r;
  const bool valid = idx < nrows;
  fill_row<T>(keys + r * S, vals + r * S, log2s, valid, valid ? rows[idx] : 0, lane, g, arp, acol, aval, brp, bcol,
              bval, crp, ccol, cval);
}

template <class T>
MM_DEVICE void fill_global(const long long* arp, const int* acol, const T* aval, const long long* brp, const int* bcol,
                           const T* bval, const int* rows, int nrows, int log2s, int* table, T* tvals,
                           const long long* crp, int* ccol, T* cval) {
  const long long off = (long long)blockIdx.x << log2s;
  for (int idx = blockIdx.x; idx < nrows; idx += gridDim.x)
    fill_row<T>(table + off, tvals + off, log2s, true, rows[idx], threadIdx.x, blockDim.x, arp, acol, aval, brp,
                bcol, bval, crp, ccol, cval);
}

}  // namespace spgemm

extern "C" __global__ void spgemm_count_shared(const long long* arp, const int* acol, const long long* brp, const int* bcol, const int* rows, int nrows, int log2s, int rows_per_block, int* nnz)
{
  MM_DYNAMIC_SHARED(int, keys);  // [rows_per_block][S]
  const int S = 1 << log2s, g = blockDim.x / rows_per_block;
  const int r = threadIdx.x / g, lane = threadIdx.x % g;
  spgemm::fill(keys + r * S, S, spgemm::kEmpty, lane, g);
  __syncthreads();
  const int idx = blockIdx.x * rows_per_block + r;
  if (idx < nrows) {
    const int row = rows[idx];
    const int n = spgemm::count_row(keys + r * S, S - 1, arp, acol, brp, bcol, row, lane, g);
    if (n > 0) atomicAdd(nnz + row, n);
  }
}

extern "C" __global__ void spgemm_count_global(const long long* arp, const int* acol, const long long* brp, const int* bcol, const int* rows, int nrows, int log2s, int* table, int* nnz)
{
  const unsigned S = 1u << log2s;
  int* keys = table + ((long long)blockIdx.x << log2s);
  for (int idx = blockIdx.x; idx < nrows; idx += gridDim.x) {
    spgemm::fill(keys, S, spgemm::kEmpty, threadIdx.x, blockDim.x);
    __syncthreads();
    const int row = rows[idx];
    const int n = spgemm::count_row(keys, S - 1, arp, acol, brp, bcol, row, threadIdx.x, blockDim.x);
    if (n > 0) atomicAdd(nnz + row, n);
    __syncthreads();  // before the next row clears the table
  }
}

extern "C" __global__ void spgemm_fill_shared_f32(const long long* arp, const int* acol, const float* aval, const long long* brp, const int* bcol, const float* bval, const int* rows, int nrows, int log2s, int rows_per_block, const long long* crp, int* ccol, float* cval)
{
  spgemm::fill_shared<float>(arp, acol, aval, brp, bcol, bval, rows, nrows, log2s, rows_per_block, crp, ccol, cval);
}
extern "C" __global__ void spgemm_fill_shared_f64(const long long* arp, const int* acol, const double* aval, const long long* brp, const int* bcol, const double* bval, const int* rows, int nrows, int log2s, int rows_per_block, const long long* crp, int* ccol, double* cval)
{
  spgemm::fill_shared<double>(arp, acol, aval, brp, bcol, bval, rows, nrows, log2s, rows_per_block, crp, ccol, cval);
}
extern "C" __global__ void spgemm_fill_global_f32(const long long* arp, const int* acol, const float* aval, const long long* brp, const int* bcol, const float* bval, const int* rows, int nrows, int log2s, int* table, float* tvals, const long long* crp, int* ccol, float* cval)
{
  spgemm::fill_global<float>(arp, acol, aval, brp, bcol, bval, rows, nrows, log2s, table, tvals, crp, ccol, cval);
}
extern "C" __global__ void spgemm_fill_global_f64(const long long* arp, const int* acol, const double* aval, const long long* brp, const int* bcol, const double* bval, const int* rows, int nrows, int log2s, int* table, double* tvals, const long long* crp, int* ccol, double* cval)
{
  spgemm::fill_global<double>(arp, acol, aval, brp, bcol, bval, rows, nrows, log2s, table, tvals, crp, ccol, cval);
}
