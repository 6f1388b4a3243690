package backend

import (
	"slices"
	"sync"
)

// Factory opens a backend on a device index.
type Factory func(device int) (Backend, error)

// registry holds the accelerated backends linked into the binary, by name
// ("cuda"). The CPU backend is not registered: the engine always has it.
var registry struct {
	sync.Mutex
	m map[string]Factory
}

// Register makes an accelerated backend available to engine.Open. Backends
// call it from init; registering a name twice replaces the earlier factory.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = map[string]Factory{}
	}
	registry.m[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	registry.Lock()
	defer registry.Unlock()
	f, ok := registry.m[name]
	return f, ok
}

// Registered lists the registered backend names, sorted.
func Registered() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
