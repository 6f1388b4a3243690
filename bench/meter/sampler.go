package meter

import (
	"sync"
	"time"
)

// Sample is one point of a power timeline.
type Sample struct {
	// T is the time since the sampler started (monotonic clock).
	T     time.Duration
	Watts float64
	// Source is "instant" (an instantaneous power reading) or "counter"
	// (the energy counter's change over the time since it last changed).
	Source string
	// Label is the configuration running when the sample was taken.
	Label string
}

// Sampler records a power timeline in the background.
type Sampler struct {
	m        Meter
	interval time.Duration
	start    time.Time

	mu      sync.Mutex
	label   string
	samples []Sample
	err     error

	stop chan struct{}
	done chan struct{}
}

// StartSampler samples m every interval until Stop: instantaneous power
// where m is a PowerReader that works, else the counter's rate of change.
func StartSampler(m Meter, interval time.Duration) *Sampler {
	s := &Sampler{m: m, interval: max(interval, time.Millisecond), start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// SetLabel names the configuration that the next samples belong to.
func (s *Sampler) SetLabel(label string) {
	s.mu.Lock()
	s.label = label
	s.mu.Unlock()
}

func (s *Sampler) add(w float64, source string) {
	s.mu.Lock()
	s.samples = append(s.samples, Sample{T: time.Since(s.start), Watts: w, Source: source, Label: s.label})
	s.mu.Unlock()
}

func (s *Sampler) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *Sampler) loop() {
	defer close(s.done)
	pr, instant := s.m.(PowerReader)
	if instant {
		if _, err := pr.Power(); err != nil {
			instant = false
		}
	}
	var last Reading
	haveLast := false
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		if instant {
			w, err := pr.Power()
			if err != nil {
				s.fail(err)
				return
			}
			s.add(w, "instant")
		} else {
			r, err := s.m.Read()
			if err != nil {
				s.fail(err)
				return
			}
			// A rate only between two changes of the counter: between
			// updates it reads flat, which is not zero power.
			switch {
			case !haveLast:
				last, haveLast = r, true
			case r.Joules != last.Joules:
				if dt := r.Time.Sub(last.Time).Seconds(); dt > 0 {
					s.add((r.Joules-last.Joules)/dt, "counter")
				}
				last = r
			}
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// Stop ends sampling and returns the timeline and the error that ended it
// early, if any (a device lost mid-run, for instance).
func (s *Sampler) Stop() ([]Sample, error) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.err
}
