package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/atomicfile"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// The autotune cache: `matmix bench --autotune` times every candidate plan
// of a shape on the device (autotune_time.go) and records the winner here,
// per device, operation, dtype and shape, with the device's measured
// ceilings (autotune_ceilings.go). A backend given the cache runs the
// cached winner wherever the caller leaves the choice to it (the zero path
// and tiles of MonarchOptions and GLAOptions), instead of the heuristics of
// monarch_plan.go and gla_plan.go.

// TuneCacheVersion is the cache file's format; a file of another version
// is refused (LoadTuneCache), not reinterpreted.
const TuneCacheVersion = 1

// TuneCacheEnv names the environment variable that overrides the cache
// file's default path.
const TuneCacheEnv = "MATMIX_AUTOTUNE_CACHE"

// DefaultTuneCachePath is $MATMIX_AUTOTUNE_CACHE when set, else
// autotune.json in matmix's directory under os.UserCacheDir()
// (~/.cache/matmix/autotune.json on Linux).
func DefaultTuneCachePath() (string, error) {
	if p := os.Getenv(TuneCacheEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", errs.Argument("autotune", "no cache directory (%v): set %s", err, TuneCacheEnv)
	}
	return filepath.Join(dir, "matmix", "autotune.json"), nil
}

// TuneCache is the content of the cache file. The zero value is not
// usable; NewTuneCache and LoadTuneCache return usable caches. It is not
// safe for concurrent modification (bench fills it, then hands it over).
type TuneCache struct {
	Version int `json:"version"`
	// Devices are keyed by DeviceKey: the same model on another
	// architecture, or another model, tunes anew.
	Devices map[string]*TunedDevice `json:"devices"`
}

// TunedDevice is what the cache holds for one device.
type TunedDevice struct {
	// Ceilings are the device's measured ceilings; nil until measured.
	Ceilings *Ceilings `json:"ceilings,omitempty"`
	// Winners are keyed by MonarchTuneKey / GLATuneKey.
	Winners map[string]TuneEntry `json:"winners"`
}

// TuneEntry is the outcome of timing one shape's candidates.
type TuneEntry struct {
	Plan    string  `json:"plan"`    // the winner, as MonarchPlanName / GLAPlanName spell it
	Seconds float64 `json:"seconds"` // its median device time per run
	// Timed are every candidate's median device seconds per run (failed
	// candidates are absent).
	Timed map[string]float64 `json:"timed"`
}

// DeviceKey identifies a device in the cache: its name and architecture,
// e.g. "NVIDIA H200 sm_90".
func DeviceKey(p device.Props) string { return p.Name + " " + p.Arch() }

// NewTuneCache returns an empty cache.
func NewTuneCache() *TuneCache {
	return &TuneCache{Version: TuneCacheVersion, Devices: map[string]*TunedDevice{}}
}

// LoadTuneCache reads a cache file. A missing file is an empty cache; a
// file that is not a cache of this version is an errs.ErrFormat error
// naming the file (the caller decides: bench refuses to overwrite it, a
// backend ignores it and runs its heuristics).
func LoadTuneCache(path string) (*TuneCache, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewTuneCache(), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTuneCache(path, f)
}

func readTuneCache(path string, r io.Reader) (*TuneCache, error) {
	const op = "autotune cache"
	var c TuneCache
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, errs.Format(op, err, "%s is not an autotune cache; delete it to start a new one", path)
	}
	if c.Version != TuneCacheVersion {
		return nil, errs.Format(op, nil, "%s has format version %d, this matmix writes %d; delete it to start a new one", path, c.Version, TuneCacheVersion)
	}
	if c.Devices == nil {
		c.Devices = map[string]*TunedDevice{}
	}
	for k, d := range c.Devices {
		if d == nil {
			return nil, errs.Format(op, nil, "%s: device %q has no entry; delete it to start a new one", path, k)
		}
		if d.Winners == nil {
			d.Winners = map[string]TuneEntry{}
		}
	}
	return &c, nil
}

// Save writes the cache to path atomically, creating its directory.
func (c *TuneCache) Save(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	})
}

// device returns the device's entry, creating it.
func (c *TuneCache) device(dev string) *TunedDevice {
	d := c.Devices[dev]
	if d == nil {
		d = &TunedDevice{Winners: map[string]TuneEntry{}}
		c.Devices[dev] = d
	}
	return d
}

// Lookup returns the recorded winner of a shape on a device. A nil cache
// has none.
func (c *TuneCache) Lookup(dev, key string) (TuneEntry, bool) {
	if c == nil || c.Devices[dev] == nil {
		return TuneEntry{}, false
	}
	e, ok := c.Devices[dev].Winners[key]
	return e, ok
}

// Record stores a shape's winner, replacing an earlier one.
func (c *TuneCache) Record(dev, key string, e TuneEntry) { c.device(dev).Winners[key] = e }

// Ceilings returns a device's measured ceilings, if recorded.
func (c *TuneCache) Ceilings(dev string) (Ceilings, bool) {
	if c == nil || c.Devices[dev] == nil || c.Devices[dev].Ceilings == nil {
		return Ceilings{}, false
	}
	return *c.Devices[dev].Ceilings, true
}

// SetCeilings records a device's measured ceilings.
func (c *TuneCache) SetCeilings(dev string, cl Ceilings) { c.device(dev).Ceilings = &cl }

// MonarchTuneKey is the cache key of a Monarch forward: the kernels'
// arithmetic (f32, tf32, f16, bf16) and every size, batch included (the
// row tile's choice depends on it).
func MonarchTuneKey(variant string, batch, k, q, p, l, s, r int) string {
	return fmt.Sprintf("monarch/%s/batch=%d/k=%d/q=%d/p=%d/l=%d/s=%d/r=%d", variant, batch, k, q, p, l, s, r)
}

func monarchTuneKey(kv *monarchKernels, d monarchDims) string {
	return MonarchTuneKey(kv.name, d.batch, d.k, d.q, d.p, d.l, d.s, d.r)
}

// GLATuneKey is the cache key of a GLA forward: dtype, form, sequences,
// total and longest sequence length (one number each for a fixed-length
// batch), heads and widths.
func GLATuneKey(dt tensor.DType, form backend.GLAForm, dims backend.GLADims) string {
	return fmt.Sprintf("gla/%s/%v/n=%d/tokens=%d/maxlen=%d/h=%d/k=%d/v=%d", glaSuffix(dt), form, dims.N(),
		dims.Offsets[dims.N()], glaMaxLen(dims), dims.H, dims.K, dims.V)
}

// MonarchPlanName names a Monarch forward plan in the cache: "fused/bm=32"
// or "two-pass".
func MonarchPlanName(p MonarchPlan) string {
	if p.Path == MonarchFused {
		return "fused/bm=" + strconv.Itoa(p.RowTile)
	}
	return p.Path.String()
}

// GLAPlanName names a GLA plan in the cache: "recurrent" or
// "chunked/kt=64/warps=8".
func GLAPlanName(p GLAPlan) string {
	if p.Kernel == GLAChunkedKernel {
		return fmt.Sprintf("chunked/kt=%d/warps=%d", p.KeyTile, p.Block.X/32)
	}
	return p.Kernel.String()
}

// MonarchOptionsOf maps a cached plan name back to the options that run
// it (math is the caller's arithmetic, not part of the plan).
func MonarchOptionsOf(plan string, math MonarchMath) (MonarchOptions, error) {
	o := MonarchOptions{Math: math}
	switch {
	case plan == MonarchTwoPass.String():
		o.Path = MonarchTwoPass
		return o, nil
	case strings.HasPrefix(plan, "fused/bm="):
		bm, err := strconv.Atoi(strings.TrimPrefix(plan, "fused/bm="))
		if err != nil || bm <= 0 {
			break
		}
		o.Path, o.RowTile = MonarchFused, bm
		return o, nil
	}
	return o, errs.Format("autotune cache", nil, "unknown monarch plan %q", plan)
}

// GLAOptionsOf maps a cached plan name back to the options that run it.
func GLAOptionsOf(plan string) (GLAOptions, error) {
	if plan == GLARecurrentKernel.String() {
		return GLAOptions{Kernel: GLARecurrentKernel}, nil
	}
	var kt, w int
	if n, err := fmt.Sscanf(plan, "chunked/kt=%d/warps=%d", &kt, &w); err == nil && n == 2 &&
		GLAPlanName(GLAPlan{Kernel: GLAChunkedKernel, KeyTile: kt, Block: device.D1(32 * w)}) == plan {
		return GLAOptions{Kernel: GLAChunkedKernel, KeyTile: kt, Warps: w}, nil
	}
	return GLAOptions{}, errs.Format("autotune cache", nil, "unknown gla plan %q", plan)
}

// tunedMonarch returns o with the cached winner for this shape on this
// device when o leaves the path and row tile to the backend and the cache
// has a usable winner; otherwise o. A nil cache changes nothing.
func (c *TuneCache) tunedMonarch(props device.Props, kv *monarchKernels, d monarchDims, o MonarchOptions) (MonarchOptions, bool) {
	if c == nil || o.Path != MonarchAuto || o.RowTile != 0 || o.Blocks != 0 {
		return o, false
	}
	e, ok := c.Lookup(DeviceKey(props), monarchTuneKey(kv, d))
	if !ok {
		return o, false
	}
	t, err := MonarchOptionsOf(e.Plan, o.Math)
	if err != nil {
		return o, false
	}
	if _, err := monarchPlan(props, kv, d, t); err != nil {
		return o, false // a winner that no longer fits (a changed kernel): the heuristics
	}
	return t, true
}

// tunedGLA is tunedMonarch for GLA: o.Kernel auto with no tiles chosen.
func (c *TuneCache) tunedGLA(props device.Props, dims backend.GLADims, dt tensor.DType, form backend.GLAForm, o GLAOptions) (GLAOptions, bool) {
	if c == nil || o != (GLAOptions{}) {
		return o, false
	}
	e, ok := c.Lookup(DeviceKey(props), GLATuneKey(dt, form, dims))
	if !ok {
		return o, false
	}
	t, err := GLAOptionsOf(e.Plan)
	if err != nil {
		return o, false
	}
	if _, err := glaPlan("gla", props, dims, dt, form, t); err != nil {
		return o, false
	}
	return t, true
}

// TunedMonarchOptions returns the options that run the cached winner for
// a's shape on this backend's device, and whether the cache had one; o when
// it has none or o already fixes the plan.
func (b *Backend) TunedMonarchOptions(c *TuneCache, a backend.MonarchArgs, o MonarchOptions) (MonarchOptions, bool, error) {
	if err := backend.CheckMonarch(a); err != nil {
		return o, false, err
	}
	kv, err := monarchVariant("monarch", a.X.DType(), o.Math)
	if err != nil {
		return o, false, err
	}
	t, ok := c.tunedMonarch(b.props(), kv, monarchDimsOf(a.X, a.W1, a.W2), o)
	return t, ok, nil
}

// TunedGLAOptions is TunedMonarchOptions for GLA.
func (b *Backend) TunedGLAOptions(c *TuneCache, a backend.GLAArgs, o GLAOptions) (GLAOptions, bool, error) {
	dims, err := backend.CheckGLA(a)
	if err != nil {
		return o, false, err
	}
	if err := glaDType("gla", a.Q.DType()); err != nil {
		return o, false, err
	}
	t, ok := c.tunedGLA(b.props(), dims, a.Q.DType(), a.Form, o)
	return t, ok, nil
}
