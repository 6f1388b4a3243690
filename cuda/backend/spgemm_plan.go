package backend

import (
	"math/bits"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM launch heuristics (kernels/spgemm.cu). Both phases bin the rows by
// a bound on their distinct columns, as nsparse (Nagasaka et al. 2017),
// spECK (Parger et al. 2020) and OpSparse (Du et al. 2022) do:
//
//	phase  bound n of row i                       why
//	count  min(work_i, B's columns), work_i the   every partial product is at most one new column,
//	       sum of nnz(B[k,:]) over A's (i, k)     and no row has more columns than B
//	fill   nnz(C[i,:]), the count's result        exact: the numeric tables are no larger than needed
//
// A row's table has S = 2^L slots, the least power of two >= 2n and >= 32
// (load factor <= 1/2, so linear probes stay short; a power of two makes
// the hash a mask and the bitonic sort a full network). Rows with n = 0 are
// not launched (their count is the memset's 0). Each L is one launch
// (a bin):
//
//	S (slots)     threads a row g        rows a block R    why
//	32 .. 1024    S/4 (at least 8)       1024/S            short rows share a 256-thread block, each
//	                                                       row's group owns a table of the block's
//	                                                       shared memory: R*S = 1024 slots a block
//	2048, 4096    S/4 (512, 1024)        1                 one block a row, 2 slots a thread to clear
//	                                                       and sort per step
//	8192 ..       1024                   1                 up to the largest S whose table fits the
//	                                                       per-block opt-in shared memory (4 bytes a
//	                                                       slot counting, 4 + sizeof(value) filling:
//	                                                       H100: 32768 / 16384 / 16384 slots)
//	beyond        1024 (a block)         1 (global table)  the table in global memory, S for the bin's
//	                                                       longest row; 2 blocks per SM, each striding
//	                                                       over the bin's rows with its own table, fewer
//	                                                       when the tables would pass the memory limit
//
// The counts are scanned into C's row pointers on the host: the host must
// learn nnz(C) anyway, to check the memory limit and size C before the fill
// phase, and it bins the fill phase's rows by the counts; one pass over
// 4 bytes a row, as long as their download.
const (
	spgemmMinLog2       = 5    // 32 slots
	spgemmBlockSlots    = 1024 // R*S of the shared bins with several rows a block
	spgemmMinGroup      = 8    // fewest threads a row
	spgemmMaxThreads    = 1024 // a block
	spgemmMaxLog2       = 30   // slot indices and offsets stay in 32 bits
	spgemmBlocksPerSM   = 2    // global bins
	spgemmKeyBytes      = 4
	spgemmRowIndexBytes = 4
)

// SpGEMMTuning overrides the heuristics, for tests and tuning; the zero
// value is the default.
type SpGEMMTuning struct {
	// MaxSharedSlots caps the shared-memory tables (a power of two >= 32):
	// rows needing more use global tables. 0: what the device allows.
	MaxSharedSlots int
	// GlobalThreads is the block size of the global bins (a multiple of 32
	// up to 1024). 0: 1024.
	GlobalThreads int
	// GlobalBlocks bounds the blocks (so tables) of a global bin. 0: two
	// per SM.
	GlobalBlocks int
}

// SpGEMMBin is one launch of a phase: the rows whose tables have 2^Log2Slots
// slots.
type SpGEMMBin struct {
	Log2Slots    int
	Global       bool // the tables are in global memory, one block a row
	RowsPerBlock int
	Threads      int // block size
	Smem         int // dynamic shared memory a block, bytes
	Blocks       int // grid
	Rows         []int32
}

// SpGEMMPlan is what a product ran: the count phase's bins and the fill
// phase's (empty when the product has no work).
type SpGEMMPlan struct {
	Count, Fill []SpGEMMBin
}

// spgemmLog2 is L of the table for a row bound n >= 1.
func spgemmLog2(n int64) int {
	return max(spgemmMinLog2, bits.Len64(uint64(2*n-1)))
}

// spgemmMaxSharedLog2 is the largest L of a shared table with slot bytes a
// slot, or spgemmMinLog2-1 when none fits.
func spgemmMaxSharedLog2(props device.Props, slot int, t SpGEMMTuning) int {
	limit := max(props.SharedPerBlockOptin, props.SharedPerBlock)
	l := spgemmMinLog2 - 1
	for c := spgemmMinLog2; c <= spgemmMaxLog2 && (1<<c)*slot <= limit; c++ {
		if t.MaxSharedSlots != 0 && 1<<c > t.MaxSharedSlots {
			break
		}
		l = c
	}
	return l
}

// spgemmBins groups the rows with bound[i] > 0 by their table size. slot is
// a slot's bytes; the global bin's blocks are left for spgemmFitGlobal.
func spgemmBins(props device.Props, bound []int64, slot int, t SpGEMMTuning) ([]SpGEMMBin, error) {
	const op = "spgemm"
	maxShared := spgemmMaxSharedLog2(props, slot, t)
	maxThreads := min(spgemmMaxThreads, max(props.MaxThreadsPerBlock, 32))
	var byLog2 [spgemmMaxLog2 + 1][]int32
	var global []int32
	var longest int64
	for i, n := range bound {
		if n == 0 {
			continue
		}
		if l := spgemmLog2(n); l <= maxShared {
			byLog2[l] = append(byLog2[l], int32(i))
			continue
		}
		global = append(global, int32(i))
		longest = max(longest, n)
	}
	var bins []SpGEMMBin
	for l, rows := range byLog2 {
		if len(rows) == 0 {
			continue
		}
		s := 1 << l
		g := min(max(s/4, spgemmMinGroup), maxThreads)
		r := max(1, spgemmBlockSlots/s)
		if r*g > maxThreads {
			r = max(1, maxThreads/g)
		}
		bins = append(bins, SpGEMMBin{Log2Slots: l, RowsPerBlock: r, Threads: r * g, Smem: r * s * slot,
			Blocks: (len(rows) + r - 1) / r, Rows: rows})
	}
	if len(global) > 0 {
		l := spgemmLog2(longest)
		if l > spgemmMaxLog2 {
			return nil, errs.Limit(op, "a row of up to %d columns needs a table of 2^%d slots, over 2^%d", longest, l, spgemmMaxLog2)
		}
		threads := maxThreads
		if t.GlobalThreads != 0 {
			threads = min(t.GlobalThreads, maxThreads)
		}
		bins = append(bins, SpGEMMBin{Log2Slots: l, Global: true, RowsPerBlock: 1, Threads: threads, Rows: global})
	}
	return bins, nil
}

// spgemmTableBytes is the global bins' tables in bytes at their current
// blocks.
func spgemmTableBytes(bins []SpGEMMBin, slot int) int64 {
	n := int64(0)
	for _, b := range bins {
		if b.Global {
			n += int64(b.Blocks) << b.Log2Slots * int64(slot)
		}
	}
	return n
}

// spgemmFitGlobal sets the blocks of the global bin (at most one): two per
// SM, at most one a row, and as many as room bytes of tables allow (one at
// least). It fails with ErrLimit when one table does not fit in room.
func spgemmFitGlobal(props device.Props, bins []SpGEMMBin, slot int, room int64, t SpGEMMTuning) error {
	for i := range bins {
		b := &bins[i]
		if !b.Global {
			continue
		}
		table := int64(slot) << b.Log2Slots
		blocks := int64(max(1, spgemmBlocksPerSM*props.SMs))
		if t.GlobalBlocks != 0 {
			blocks = int64(t.GlobalBlocks)
		}
		blocks = min(blocks, int64(len(b.Rows)), max(room, 0)/table)
		if blocks < 1 {
			return errs.Limit("spgemm", "a global hash table of %d bytes for rows of up to 2^%d slots does not fit in the %d bytes the memory limit leaves", table, b.Log2Slots, max(room, 0))
		}
		b.Blocks = int(blocks)
	}
	return nil
}

// spgemmBytes adds byte counts, each a product n*size, and reports false
// when the total overflows int64.
type spgemmBytes struct {
	total int64
	ok    bool
}

func newSpGEMMBytes() spgemmBytes { return spgemmBytes{ok: true} }

func (b *spgemmBytes) add(n, size int64) {
	if t, ok := sparse.MulSum(b.total, 1, n, size); ok {
		b.total = t
	} else {
		b.ok = false
	}
}
