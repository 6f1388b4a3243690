package meter

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 1))
}

// fakeClock is a clock the test moves by hand, so counter windows are exact.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration // added after every Now, to emulate time passing between polls
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// since is the time elapsed from origin without moving the clock.
func (c *fakeClock) since(origin time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.Sub(origin)
}
