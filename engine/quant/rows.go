package quant

import (
	"runtime"
	"sync"
)

// rowGrain is the least number of values a goroutine quantizes: below it
// the goroutine costs more than the work.
const rowGrain = 1 << 16

// forRows calls f over [0, rows) split into contiguous ranges, one a
// goroutine, as many as GOMAXPROCS allows and the rows x cols values
// justify; a small matrix runs on the caller's goroutine. Rows are
// independent in every quantizer, so the result is the same however many.
func forRows(rows, cols int, f func(r0, r1 int)) {
	n := min(runtime.GOMAXPROCS(0), rows, rows*cols/rowGrain)
	if n <= 1 {
		f(0, rows)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(rows*i/n, rows*(i+1)/n) })
	}
	wg.Wait()
}
