// Fragment layouts of the warp-level mma.sync shapes the kernels use: which element of A (M x K,
// row-major), B (K x N, column-major) and C/D (M x N) lane `lane` holds as its element i.
// Transcribed from the PTX ISA, section 9.7.14.5 "Matrix multiply-accumulate operation using mma
// instruction" (numbering of PTX ISA 8.x), one struct per subsection; the simulator's mma emulation
// gathers and scatters fragments with these same functions, and kernels use them to load fragments.
//
// Common names (PTX): groupID = lane >> 2, threadID_in_group = lane % 4.
// Elements are packed into 32-bit registers low to high: element i of a fragment with E elements per
// register sits in register i / E at bit offset (i % E) * (32 / E).
#pragma once

#ifndef MM_HD
#if defined(__CUDACC__)
#define MM_HD __host__ __device__ __forceinline__
#else
#define MM_HD inline
#endif
#endif

namespace mm::layout {

// Accumulator C/D of every m16n8 shape below (f32 or s32, four per lane): PTX 9.7.14.5.7-11,
// "Accumulators (C or D)": row = groupID for c0, c1 and groupID + 8 for c2, c3;
// col = threadID_in_group * 2 + (i & 1).
struct AccM16N8 {
  static constexpr int kElems = 4;
  MM_HD static constexpr int row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
  MM_HD static constexpr int col(int lane, int i) { return (lane & 3) * 2 + (i & 1); }
};

// mma.m16n8k16 with .f16 / .bf16 A and B: PTX 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with
// floating point type" (Figure 79 for A).
//  A: 4 x .f16x2 registers, a0..a7: row = groupID for a0,a1,a4,a5 and groupID + 8 otherwise;
//     col = threadID_in_group * 2 + (i & 1), plus 8 for i >= 4.
//  B: 2 x .f16x2 registers, b0..b3: row = threadID_in_group * 2 + (i & 1), plus 8 for i >= 2; col = groupID.
struct M16N8K16Half {
  static constexpr int M = 16, N = 8, K = 16;
  static constexpr int kAElems = 8, kBElems = 4, kBits = 16;
  MM_HD static constexpr int a_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 1) & 1); }
  MM_HD static constexpr int a_col(int lane, int i) { return (lane & 3) * 2 + (i & 1) + 8 * (i >> 2); }
  MM_HD static constexpr int b_row(int lane, int i) { return (lane & 3) * 2 + (i & 1) + 8 * (i >> 1); }
  MM_HD static constexpr int b_col(int lane, int) { return lane >> 2; }
};

// mma.m16n8k8 with .tf32 A and B: PTX 9.7.14.5.7 "Matrix Fragments for mma.m16n8k8", the .tf32
// rows (Figure 72 for A).
//  A: 4 x .b32, a0..a3: row = groupID for a0,a2 and groupID + 8 for a1,a3;
//     col = threadID_in_group for a0,a1 and threadID_in_group + 4 for a2,a3.
//  B: 2 x .b32, b0..b1: row = threadID_in_group for b0 and threadID_in_group + 4 for b1; col = groupID.
struct M16N8K8Tf32 {
  static constexpr int M = 16, N = 8, K = 8;
  static constexpr int kAElems = 4, kBElems = 2, kBits = 32;
  MM_HD static constexpr int a_row(int lane, int i) { return (lane >> 2) + 8 * (i & 1); }
  MM_HD static constexpr int a_col(int lane, int i) { return (lane & 3) + 4 * (i >> 1); }
  MM_HD static constexpr int b_row(int lane, int i) { return (lane & 3) + 4 * i; }
  MM_HD static constexpr int b_col(int lane, int) { return lane >> 2; }
};

// mma.m16n8k32 with .s8 A and B: PTX 9.7.14.5.10 "Matrix Fragments for mma.m16n8k32", the .s8
// rows.
//  A: 4 x .b32 of four .s8, a0..a15: row = groupID for 0 <= i < 4 || 8 <= i < 12 and groupID + 8
//     otherwise; col = threadID_in_group * 4 + (i & 3), plus 16 for i >= 8.
//  B: 2 x .b32 of four .s8, b0..b7: row = threadID_in_group * 4 + (i & 3), plus 16 for i >= 4; col = groupID.
struct M16N8K32S8 {
  static constexpr int M = 16, N = 8, K = 32;
  static constexpr int kAElems = 16, kBElems = 8, kBits = 8;
  MM_HD static constexpr int a_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 2) & 1); }
  MM_HD static constexpr int a_col(int lane, int i) { return (lane & 3) * 4 + (i & 3) + 16 * (i >> 3); }
  MM_HD static constexpr int b_row(int lane, int i) { return (lane & 3) * 4 + (i & 3) + 16 * (i >> 2); }
  MM_HD static constexpr int b_col(int lane, int) { return lane >> 2; }
};

// mma.m16n8k64 with .s4 A and B: PTX 9.7.14.5.11 "Matrix Fragments for mma.m16n8k64", Figures 93 (A),
// 94 and 95 (B).
//  A: 4 x .b32 of eight .s4, a0..a31: row = groupID for 0 <= i < 8 || 16 <= i < 24 and groupID + 8
//     otherwise; col = threadID_in_group * 8 + (i & 7), plus 32 for i >= 16.
//  B: 2 x .b32 of eight .s4, b0..b15: row = threadID_in_group * 8 + (i & 7), plus 32 for i >= 8; col = groupID.
struct M16N8K64S4 {
  static constexpr int M = 16, N = 8, K = 64;
  static constexpr int kAElems = 32, kBElems = 16, kBits = 4;
  MM_HD static constexpr int a_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 3) & 1); }
  MM_HD static constexpr int a_col(int lane, int i) { return (lane & 3) * 8 + (i & 7) + 32 * (i >> 4); }
  MM_HD static constexpr int b_row(int lane, int i) { return (lane & 3) * 8 + (i & 7) + 32 * (i >> 3); }
  MM_HD static constexpr int b_col(int lane, int) { return lane >> 2; }
};

// ldmatrix.sync.aligned.m8n8.xN[.trans].shared.b16: PTX 9.7.14.5.15 "Warp-level matrix load
// instruction: ldmatrix". Matrix j (0 <= j < N) has its 8 rows of 8 x 16-bit elements at the
// addresses given by lanes 8j..8j+7; each lane receives register j holding two elements of matrix j:
//   without .trans: row = lane / 4, cols 2 * (lane % 4) and 2 * (lane % 4) + 1 (low half first);
//   with .trans:    rows 2 * (lane % 4) and 2 * (lane % 4) + 1, col = lane / 4.
struct LdMatrix {
  MM_HD static constexpr int address_lane(int matrix, int row) { return matrix * 8 + row; }
  MM_HD static constexpr int row(int lane, int half, bool trans) { return trans ? 2 * (lane & 3) + half : lane >> 2; }
  MM_HD static constexpr int col(int lane, int half, bool trans) { return trans ? lane >> 2 : 2 * (lane & 3) + half; }
};

}  // namespace mm::layout
