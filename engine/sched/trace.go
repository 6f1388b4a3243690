package sched

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/matmix/matmix/engine/atomicfile"
)

// traceEvent is one event of the Chrome trace event format (the "JSON
// object format" of the Trace Event Format document, which Perfetto and
// chrome://tracing open): "X" complete events with ts and dur in
// microseconds, "M" metadata events naming processes and threads.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  *float64       `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

type traceFile struct {
	TraceEvents     []traceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
}

// EncodeTrace writes the records that ran as a Chrome trace: one process
// per device (pid = device index), one thread per stream (tid = stream
// index), one complete event per workload spanning its run, with its
// queue time, bytes, error and, where the backend measured it with device
// events, its device time (span, kernels, copies, bytes copied) as
// arguments. Device events give durations, not host timestamps, so the
// device time is an argument of the host-timed event, not an event of its
// own. Times count from the earliest submission.
func EncodeTrace(w io.Writer, recs []Record) error {
	var ran []Record
	for _, r := range recs {
		if r.Ran() {
			ran = append(ran, r)
		}
	}
	slices.SortFunc(ran, func(a, b Record) int { return a.Started.Compare(b.Started) })
	var t0 time.Time
	for _, r := range ran {
		if t0.IsZero() || r.Submitted.Before(t0) {
			t0 = r.Submitted
		}
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	ev := []traceEvent{}
	named := map[[2]int]bool{}
	for _, r := range ran {
		if !named[[2]int{r.Device, -1}] {
			named[[2]int{r.Device, -1}] = true
			ev = append(ev, traceEvent{Name: "process_name", Ph: "M", Pid: r.Device,
				Args: map[string]any{"name": fmt.Sprintf("device %d (%s)", r.Device, r.DeviceName)}})
		}
		if !named[[2]int{r.Device, r.Stream}] {
			named[[2]int{r.Device, r.Stream}] = true
			ev = append(ev, traceEvent{Name: "thread_name", Ph: "M", Pid: r.Device, Tid: r.Stream,
				Args: map[string]any{"name": fmt.Sprintf("stream %d", r.Stream)}})
		}
		dur := us(r.RunTime())
		args := map[string]any{"kind": r.Kind, "queue_us": us(r.QueueTime()), "bytes": r.Bytes}
		if dt := r.DeviceTime; dt.Calls > 0 {
			args["device_us"], args["kernel_us"], args["copy_us"], args["copy_bytes"] = us(dt.Span), us(dt.Kernels), us(dt.Copies), dt.CopyBytes
		}
		if r.Err != nil {
			args["error"] = r.Err.Error()
		}
		ev = append(ev, traceEvent{Name: r.Name, Cat: r.Kind, Ph: "X", Ts: us(r.Started.Sub(t0)), Dur: &dur,
			Pid: r.Device, Tid: r.Stream, Args: args})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(traceFile{TraceEvents: ev, DisplayTimeUnit: "ms"})
}

// WriteTrace writes EncodeTrace's output to path atomically: a reader sees
// the previous file or the complete trace.
func WriteTrace(path string, recs []Record) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeTrace(w, recs) })
}
