package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// intList is a flag holding one value or a comma-separated sweep
// ("--n 1024,2048,4096").
type intList []int

func (l *intList) String() string { return joinList(*l) }

func (l *intList) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not an integer", f)
		}
		*l = append(*l, v)
	}
	return nil
}

// floatList is a comma-separated list of numbers.
type floatList []float64

func (l *floatList) String() string { return joinList(*l) }

func (l *floatList) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", f)
		}
		*l = append(*l, v)
	}
	return nil
}

// stringList is a comma-separated list of words.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			return fmt.Errorf("empty item in %q", s)
		}
		*l = append(*l, f)
	}
	return nil
}

func joinList[T any](l []T) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}

// seconds is a duration flag that takes seconds ("0.5", as nvbench does) or
// a Go duration ("500ms"); set records whether the user gave it.
type seconds struct {
	d   time.Duration
	set bool
}

func (s *seconds) String() string {
	if !s.set {
		return ""
	}
	return s.d.String()
}

func (s *seconds) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return fmt.Errorf("%q is neither seconds nor a duration", v)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 0 {
		return fmt.Errorf("%q is negative", v)
	}
	s.d, s.set = d, true
	return nil
}

// or returns the value when set, else def.
func (s *seconds) or(def time.Duration) time.Duration {
	if s.set {
		return s.d
	}
	return def
}

// orInts is l when given, else def.
func orInts(l intList, def ...int) []int {
	if len(l) > 0 {
		return l
	}
	return def
}
