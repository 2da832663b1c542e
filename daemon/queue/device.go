package queue

import (
	"sync"
	"time"

	"smsgw/drivers"
)

// Device is one configured driver as the dispatcher schedules it.
type Device struct {
	Name   string
	Type   string
	Driver drivers.Driver
	// Concurrency is how many sends may be in flight at once (default 1).
	Concurrency int
	// Every is the minimum gap between two sends.
	Every time.Duration
	// MaxParts per Window caps the SMS parts sent in any sliding window.
	MaxParts int
	Window   time.Duration
}

// device is a Device plus its live scheduling state.
type device struct {
	Device

	mu       sync.Mutex
	inflight int
	lastSend time.Time
	// sent holds the time and part count of recent sends, oldest first, for
	// the sliding window.
	sent   []sentParts
	health drivers.Health
}

type sentParts struct {
	at    time.Time
	parts int
}

// reserve takes a send slot for a message of parts parts if the device has
// one free now. When it has none it returns the earliest time worth asking
// again (zero when only a finishing send can free a slot).
func (d *device) reserve(now time.Time, parts int) (ok bool, retryAt time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok, retryAt = d.availableLocked(now, parts); !ok {
		return false, retryAt
	}
	if d.MaxParts > 0 && d.Window > 0 {
		d.sent = append(d.sent, sentParts{at: now, parts: parts})
	}
	d.inflight++
	d.lastSend = now
	return true, time.Time{}
}

// free returns how many sends the device could start now (0 when pacing
// or health stops it, with the earliest time worth asking again).
func (d *device) free(now time.Time) (int, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok, at := d.availableLocked(now, 1); !ok {
		return 0, at
	}
	return max(d.Concurrency, 1) - d.inflight, time.Time{}
}

func (d *device) availableLocked(now time.Time, parts int) (bool, time.Time) {
	if d.health.State == drivers.StateDown {
		return false, now.Add(time.Second)
	}
	if d.inflight >= max(d.Concurrency, 1) {
		return false, time.Time{}
	}
	if d.Every > 0 && !d.lastSend.IsZero() {
		if next := d.lastSend.Add(d.Every); now.Before(next) {
			return false, next
		}
	}
	if d.MaxParts > 0 && d.Window > 0 {
		cut := 0
		for cut < len(d.sent) && !d.sent[cut].at.After(now.Add(-d.Window)) {
			cut++
		}
		d.sent = d.sent[cut:]
		used := 0
		for _, s := range d.sent {
			used += s.parts
		}
		if used > 0 && used+parts > d.MaxParts {
			// Wait until enough old sends leave the window.
			free := d.MaxParts - used
			for _, s := range d.sent {
				free += s.parts
				if free >= parts {
					return false, s.at.Add(d.Window)
				}
			}
			return false, d.sent[len(d.sent)-1].at.Add(d.Window)
		}
	}
	return true, time.Time{}
}

// release returns a slot taken by reserve.
func (d *device) release() {
	d.mu.Lock()
	d.inflight--
	d.mu.Unlock()
}

// unreserve undoes a reservation whose lease did not commit, including its
// pacing footprint.
func (d *device) unreserve(at time.Time, parts int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inflight--
	for i := len(d.sent) - 1; i >= 0; i-- {
		if d.sent[i].at.Equal(at) && d.sent[i].parts == parts {
			d.sent = append(d.sent[:i], d.sent[i+1:]...)
			break
		}
	}
}

func (d *device) setHealth(h drivers.Health) {
	d.mu.Lock()
	d.health = h
	d.mu.Unlock()
}

func (d *device) currentHealth() drivers.Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

// pacingTTL is how long this device's sends matter to its pacing; zero
// when it is not paced.
func (d *device) pacingTTL() time.Duration {
	ttl := d.Every
	if d.MaxParts > 0 && d.Window > ttl {
		ttl = d.Window
	}
	return ttl
}

// restore loads sends recorded before a restart or reload.
func (d *device) restore(history []sentParts) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range history {
		if d.MaxParts > 0 && d.Window > 0 {
			d.sent = append(d.sent, h)
		}
		if h.at.After(d.lastSend) {
			d.lastSend = h.at
		}
	}
}
