package store

import (
	"sync"
	"time"
)

// dueFloor is a time below which the due index holds no live key, so scans
// can seek past the deleted keys that leasing leaves behind. Badger keeps a
// deleted key until compaction drops it, and a scan from the start of the
// index would walk every message queued since: dispatch cost would grow
// with past traffic instead of with the queue.
//
// Writers lower the floor for every due key they set; a scan raises it to
// the first live key it saw (or its own now, when it saw none), less a
// margin. A scan that raced with a lowering leaves the floor alone.
//
// A key written while a scan runs could still be missed if its commit lands
// after the scan's snapshot; the margin covers commits slower than itself,
// and a full scan every fullScanEvery bounds what any miss could cost.
type dueFloor struct {
	mu       sync.Mutex
	ms       int64 // unix milliseconds
	version  uint64
	lastFull time.Time
}

const (
	dueMargin     = 5 * time.Second
	fullScanEvery = 30 * time.Second
)

// get returns where the next scan starts, and the version to hand to raise.
func (f *dueFloor) get() (int64, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.lastFull) >= fullScanEvery {
		f.lastFull = now
		return 0, f.version
	}
	return f.ms, f.version
}

// lower makes sure a key due at t is scanned.
func (f *dueFloor) lower(t time.Time) {
	ms := max(t.Add(-dueMargin).UnixMilli(), 0)
	f.mu.Lock()
	defer f.mu.Unlock()
	if ms < f.ms {
		f.ms = ms
		f.version++
	}
}

// raise moves the floor up after a scan that started at version and saw
// its first live key due at firstMS (negative: none).
func (f *dueFloor) raise(now time.Time, firstMS int64, version uint64) {
	ms := now.UnixMilli()
	if firstMS >= 0 && firstMS < ms {
		ms = firstMS
	}
	ms = max(ms-dueMargin.Milliseconds(), 0)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.version == version && ms > f.ms {
		f.ms = ms
	}
}
