package report

import (
	"cmp"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/engine/errs"
)

// WritePlot draws three panels side by side: median time and energy per run
// against the work of a run (FLOPs, the size measure every workload
// shares), and each configuration on the device's roofline. format is
// "png" or "svg".
func WritePlot(w io.Writer, format string, r *Report) error {
	const width, height = 15 * vg.Inch, 4.5 * vg.Inch
	panels := [][]*plot.Plot{{timePlot(r), energyPlot(r), rooflinePlot(r)}}
	tiles := draw.Tiles{Rows: 1, Cols: 3, PadX: 8 * vg.Millimeter, PadTop: 2 * vg.Millimeter,
		PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	case "svg":
		c = vgsvg.New(width, height)
	default:
		return errs.Argument("plot", "unknown plot format %q (want png or svg)", format)
	}
	dc := draw.New(c)
	for i, cv := range plot.Align(panels, tiles, dc)[0] {
		panels[0][i].Draw(cv)
	}
	_, err := c.WriteTo(w)
	return err
}

// series is one workload's points.
type series struct {
	op  string
	xys plotter.XYs
}

// byOp groups positive (x, y) pairs by workload, sorted by x, so log axes
// never see zero or a missing figure.
func byOp(rs []bench.Result, xy func(bench.Result) (float64, float64, bool)) []series {
	var out []series
	for _, r := range rs {
		x, y, ok := xy(r)
		if !ok || !(x > 0) || !(y > 0) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			continue
		}
		i := slices.IndexFunc(out, func(s series) bool { return s.op == r.Op })
		if i < 0 {
			out = append(out, series{op: r.Op})
			i = len(out) - 1
		}
		out[i].xys = append(out[i].xys, plotter.XY{X: x, Y: y})
	}
	for _, s := range out {
		slices.SortFunc(s.xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	}
	return out
}

// addSeries draws each workload's points, joined by a line when lines is
// set (along a size axis; not on a roofline, where order means nothing).
func addSeries(p *plot.Plot, ss []series, lines bool) {
	for i, s := range ss {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			continue // only non-finite values fail; byOp kept none
		}
		l.Color = plotutil.Color(i)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		if lines {
			p.Add(l, pts)
			p.Legend.Add(s.op, l, pts)
		} else {
			p.Add(pts)
			p.Legend.Add(s.op, pts)
		}
	}
}

// logAxes puts both axes on log scales spanning whole decades of the data.
func logAxes(p *plot.Plot, xs, ys []float64) {
	for _, a := range []struct {
		ax *plot.Axis
		v  []float64
	}{{&p.X, xs}, {&p.Y, ys}} {
		if len(a.v) == 0 {
			continue
		}
		lo, hi := slices.Min(a.v), slices.Max(a.v)
		a.ax.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		a.ax.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
		if a.ax.Max <= a.ax.Min {
			a.ax.Max = a.ax.Min * 10
		}
		a.ax.Scale = plot.LogScale{}
		a.ax.Tick.Marker = decadeTicks{}
	}
}

// decadeTicks labels every power of ten and marks 2..9 between them.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		for k := 2.0; k < 10; k++ {
			t = append(t, plot.Tick{Value: k * v})
		}
	}
	return t
}

func points(ss []series) (xs, ys []float64) {
	for _, s := range ss {
		for _, p := range s.xys {
			xs, ys = append(xs, p.X), append(ys, p.Y)
		}
	}
	return xs, ys
}

func timePlot(r *Report) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Time per run"
	p.X.Label.Text = "work per run (GFLOP)"
	p.Y.Label.Text = "median time per run (s)"
	ss := byOp(r.Results, func(res bench.Result) (float64, float64, bool) { return res.Flops / 1e9, res.MedianS, true })
	addSeries(p, ss, true)
	xs, ys := points(ss)
	logAxes(p, xs, ys)
	return p
}

func energyPlot(r *Report) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Energy per run"
	p.X.Label.Text = "work per run (GFLOP)"
	p.Y.Label.Text = "energy per run (J)"
	ss := byOp(r.Results, func(res bench.Result) (float64, float64, bool) {
		if res.EnergyJ == nil {
			return 0, 0, false
		}
		return res.Flops / 1e9, *res.EnergyJ, true
	})
	if len(ss) == 0 {
		p.Title.Text = "Energy per run: not measured (no meter)"
		// Keep the work axis of the time panel so the panels line up.
		xs, _ := points(byOp(r.Results, func(res bench.Result) (float64, float64, bool) { return res.Flops / 1e9, 1, true }))
		logAxes(p, xs, nil)
		p.Y.Min, p.Y.Max = 0, 1
		return p
	}
	addSeries(p, ss, true)
	xs, ys := points(ss)
	logAxes(p, xs, ys)
	return p
}

func rooflinePlot(r *Report) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Roofline"
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "achieved GFLOP/s"
	ss := byOp(r.Results, func(res bench.Result) (float64, float64, bool) { return res.Intensity, res.GFLOPS, true })
	xs, ys := points(ss)
	var c bench.Ceilings
	if r.Device.Ceilings != nil {
		c = *r.Device.Ceilings
	}
	if c.GBPS > 0 && (c.FP32GFLOPS > 0 || c.INT8GOPS > 0) && len(xs) > 0 {
		lo, hi := slices.Min(xs)/10, slices.Max(xs)*10
		for i, cl := range []struct {
			name string
			peak float64
		}{{"fp32 roof", c.FP32GFLOPS}, {"int8 roof", c.INT8GOPS}} {
			if cl.peak <= 0 || (i == 1 && (!anyInt8(r.Results) || cl.peak == c.FP32GFLOPS)) {
				continue
			}
			var roof plotter.XYs
			for k := 0; k <= 64; k++ {
				x := lo * math.Pow(hi/lo, float64(k)/64)
				roof = append(roof, plotter.XY{X: x, Y: min(cl.peak, x*c.GBPS)})
			}
			l, err := plotter.NewLine(roof)
			if err != nil {
				continue
			}
			l.Color = color.Gray{Y: uint8(40 + 80*i)}
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(l)
			p.Legend.Add(cl.name, l)
			rx, ry := points([]series{{xys: roof}})
			xs, ys = append(xs, rx...), append(ys, ry...)
		}
	} else {
		p.Title.Text = "Roofline (device ceilings unknown)"
	}
	addSeries(p, ss, false)
	p.Legend.Top, p.Legend.Left = true, true
	logAxes(p, xs, ys)
	return p
}

// anyInt8 reports whether a workload is bounded by the int8 ceiling.
func anyInt8(rs []bench.Result) bool {
	for _, r := range rs {
		if r.Compute == "int8" {
			return true
		}
	}
	return false
}
