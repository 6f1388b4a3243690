package driver

import "time"

// NewStream creates a stream that does not synchronize with the legacy
// default stream.
func (c *Context) NewStream() (Stream, error) {
	var s Stream
	err := c.do("cuStreamCreate", func() Result { return c.d.cuStreamCreate(&s, StreamNonBlocking) })
	return s, err
}

// StreamSynchronize waits for the work queued on s.
func (c *Context) StreamSynchronize(s Stream) error {
	return c.do("cuStreamSynchronize", func() Result { return c.d.cuStreamSynchronize(s) })
}

// DestroyStream destroys s once its work is done.
func (c *Context) DestroyStream(s Stream) error {
	return c.do("cuStreamDestroy_v2", func() Result { return c.d.cuStreamDestroy(s) })
}

// NewEvent creates a timing event.
func (c *Context) NewEvent() (Event, error) {
	var e Event
	err := c.do("cuEventCreate", func() Result { return c.d.cuEventCreate(&e, EventDefault) })
	return e, err
}

// Record records e on s.
func (c *Context) Record(e Event, s Stream) error {
	return c.do("cuEventRecord", func() Result { return c.d.cuEventRecord(e, s) })
}

// EventSynchronize waits until e has happened.
func (c *Context) EventSynchronize(e Event) error {
	return c.do("cuEventSynchronize", func() Result { return c.d.cuEventSynchronize(e) })
}

// Elapsed waits for end and returns the time between two recorded events
// (the driver's resolution is about half a microsecond).
func (c *Context) Elapsed(start, end Event) (time.Duration, error) {
	if err := c.EventSynchronize(end); err != nil {
		return 0, err
	}
	var ms float32
	err := c.do("cuEventElapsedTime", func() Result { return c.d.cuEventElapsedTime(&ms, start, end) })
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}

// DestroyEvent destroys e.
func (c *Context) DestroyEvent(e Event) error {
	return c.do("cuEventDestroy_v2", func() Result { return c.d.cuEventDestroy(e) })
}
