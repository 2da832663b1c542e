package queue

import (
	"context"
	"testing"
	"time"

	"smsgw/daemon/store"
)

// TestPacingSurvivesRestart: a device allowed 2 parts an hour sends two
// messages; a new queue on the same store (a restart or a reload) must not
// let it send a third within the hour.
func TestPacingSurvivesRestart(t *testing.T) {
	drv := newFake()
	paced := func(o *Options) {
		o.Devices = []Device{{Name: "dev", Type: "fake", Driver: drv, Concurrency: 1, MaxParts: 2, Window: time.Hour}}
	}
	h := newHarness(t, drv, paced)
	h.run()
	a, b := h.submit(2*time.Hour), h.submit(2*time.Hour)
	h.waitState(a.ID, store.Sent)
	h.waitState(b.ID, store.Sent)

	again, err := New(Options{
		Store: h.st, Devices: h.q.opt.Devices, Render: h.q.opt.Render,
		Now: func() time.Time { return *h.now.Load() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := *h.now.Load()
	if n, at := again.freeSlots(now); n != 0 || at.IsZero() {
		t.Fatalf("after a restart the device may send again: %d slots (next at %v)", n, at)
	}
	later := now.Add(time.Hour + time.Second)
	if n, _ := again.freeSlots(later); n != 1 {
		t.Fatalf("an hour later the window did not free up: %d slots", n)
	}
}
