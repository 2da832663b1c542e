package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/drivertest"
)

// script is a hand-written random source: it returns queued values, then
// fallback forever.
type script struct {
	mu       sync.Mutex
	queue    []float64
	fallback float64
}

func (s *script) next() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return s.fallback
	}
	v := s.queue[0]
	s.queue = s.queue[1:]
	return v
}

func (s *script) push(v ...float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, v...)
}

// conformanceOpts gives each class a band of 0.1: transient [0, .1),
// permanent [.1, .2), uncertain [.2, .3), success above.
func conformanceOpts(s *script) Options {
	return Options{
		Transient:       0.1,
		Permanent:       0.1,
		Uncertain:       0.1,
		DeliveryReports: true,
		DeliveryDelay:   time.Hour, // pending at Close: exercises timer cleanup
		Rand:            s.next,
	}
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	scripts := make(map[drivers.Driver]*script)
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) drivers.Driver {
			s := &script{fallback: 0.99}
			d, err := New("conformance", conformanceOpts(s), nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			mu.Lock()
			scripts[d] = s
			mu.Unlock()
			return d
		},
		Force: func(t *testing.T, d drivers.Driver, c drivers.Class) {
			mu.Lock()
			s := scripts[d]
			mu.Unlock()
			switch c {
			case drivers.ClassTransient:
				s.push(0.05)
			case drivers.ClassPermanent:
				s.push(0.15)
			case drivers.ClassUncertain:
				s.push(0.25)
			default:
				t.Fatalf("unknown class %q", c)
			}
		},
		Stall: func(t *testing.T, d drivers.Driver) func(context.Context) error {
			sd := d.(*Driver)
			sd.Hold()
			return func(ctx context.Context) error { return sd.WaitHeld(ctx, 1) }
		},
	})
}
