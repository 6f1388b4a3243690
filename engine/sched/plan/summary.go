package plan

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// NodeSummary aggregates one node's records over the repetitions.
type NodeSummary struct {
	Name, Kind string
	Runs       int // repetitions in which it ran to success
	Failed     int
	Run        struct{ Mean, Min, Max time.Duration }
	MeanQueue  time.Duration
	Bytes      int64    // per successful run
	Placements []string // "device:stream" where it ran, sorted
}

// Summary aggregates the records by node, in plan order.
func (r *Result) Summary() []NodeSummary {
	idx := map[string]int{}
	out := make([]NodeSummary, len(r.Plan.Nodes))
	for i, n := range r.Plan.Nodes {
		idx[n.Name] = i
		out[i].Name = n.Name
	}
	queue := make([]time.Duration, len(out))
	for _, rec := range r.Records {
		s := &out[idx[rec.Name]]
		s.Kind = rec.Kind
		if rec.Err != nil || !rec.Ran() {
			s.Failed++
			continue
		}
		d := rec.RunTime()
		if s.Runs == 0 || d < s.Run.Min {
			s.Run.Min = d
		}
		s.Run.Max = max(s.Run.Max, d)
		s.Run.Mean += d // the sum until divided below
		queue[idx[rec.Name]] += rec.QueueTime()
		s.Runs++
		s.Bytes = rec.Bytes
		if p := fmt.Sprintf("%d:%d", rec.Device, rec.Stream); !slices.Contains(s.Placements, p) {
			s.Placements = append(s.Placements, p)
		}
	}
	for i := range out {
		if n := out[i].Runs; n > 0 {
			out[i].Run.Mean /= time.Duration(n)
			out[i].MeanQueue = queue[i] / time.Duration(n)
		}
		slices.Sort(out[i].Placements)
	}
	return out
}

// WriteSummary prints the run: one line for the whole, then a table of the
// nodes' times (run time from start to finish on its stream, queue time
// from ready to start).
func (r *Result) WriteSummary(w io.Writer) error {
	devices := map[string]bool{}
	for _, rec := range r.Records {
		if rec.Ran() {
			devices[rec.DeviceName] = true
		}
	}
	var names []string
	for d := range devices {
		names = append(names, d)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "plan: %d nodes x %d repeats (%d workloads) in %v on %s\n",
		len(r.Plan.Nodes), r.Repeats, len(r.Records), r.Wall.Round(time.Microsecond), strings.Join(names, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tkind\truns\tfailed\tmean run\tmin run\tmax run\tmean queue\tbytes/run\tdevice:stream")
	for _, s := range r.Summary() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\t%v\t%v\t%v\t%d\t%s\n", s.Name, s.Kind, s.Runs, s.Failed,
			round(s.Run.Mean), round(s.Run.Min), round(s.Run.Max), round(s.MeanQueue), s.Bytes, strings.Join(s.Placements, " "))
	}
	return tw.Flush()
}

func round(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
