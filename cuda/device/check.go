package device

import "github.com/matmix/matmix/engine/errs"

// CheckLaunch validates a launch configuration against a device's limits,
// so that both implementations refuse the same launches with the same
// errors before reaching the driver or the simulator.
func CheckLaunch(p Props, kernel string, grid, block Dim3, smem int) error {
	op := "launch " + kernel
	if grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0 {
		return errs.Argument(op, "empty grid %v or block %v", grid, block)
	}
	if threads := uint64(block.X) * uint64(block.Y) * uint64(block.Z); threads > uint64(p.MaxThreadsPerBlock) {
		return errs.Limit(op, "block of %d threads exceeds the device's %d", threads, p.MaxThreadsPerBlock)
	}
	// Grid limits of every device since compute capability 3.0.
	if grid.Y > 65535 || grid.Z > 65535 || grid.X > 1<<31-1 {
		return errs.Limit(op, "grid %v exceeds 2^31-1 x 65535 x 65535", grid)
	}
	if smem < 0 || smem > p.SharedPerBlockOptin {
		return errs.Limit(op, "%d bytes of dynamic shared memory exceed the device's %d per block", smem, p.SharedPerBlockOptin)
	}
	return nil
}
