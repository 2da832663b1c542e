package queue

import (
	"context"
	"testing"
	"time"

	"smsgw/daemon/store"
	"smsgw/drivers"
)

// TestSameDeviceRetryIsPinned: a multipart send whose later part failed
// after earlier parts left is retried only on the same device, even when
// that device is down and another on the route is idle; another device
// would repeat the parts the recipient already has.
func TestSameDeviceRetryIsPinned(t *testing.T) {
	partial := drivers.Transient("cms_41", "part 2 of 3 failed", nil)
	partial.SameDevice = true
	first, second := newFake(partial), newFake()
	h := newHarness(t, first, func(o *Options) {
		o.Devices = []Device{{Name: "first", Driver: first}, {Name: "second", Driver: second}}
		o.Routes = map[string][]string{"otp": {"first", "second"}}
		o.BackoffInitial, o.BackoffMax = time.Hour, time.Hour
		o.Jitter = func() float64 { return 0.5 }
	})
	h.run()
	m := h.submit(2 * time.Hour)
	var got *store.Message
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ = h.st.Get(context.Background(), m.ID)
		if got.State == store.Queued && got.Attempts == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry scheduled: %+v", got)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got.PinnedDriver != "first" {
		t.Fatalf("retry not pinned: %+v", got)
	}
	// The retry is due; the first device goes down: the message waits.
	later := h.now.Load().Add(31 * time.Minute)
	h.now.Store(&later)
	h.q.devices["first"].setHealth(drivers.Health{State: drivers.StateDown})
	if n, _ := h.q.freeSlots(*h.now.Load()); n == 0 {
		t.Fatal("the second device should be free")
	}
	if ids, _, _ := h.st.Due(context.Background(), later, 10); len(ids) != 1 {
		t.Fatalf("due %v", ids)
	}
	h.q.dispatchOnce(context.Background())
	if second.count(m.ID) != 0 {
		t.Fatal("a pinned message went to another device")
	}
	h.q.devices["first"].setHealth(drivers.Health{State: drivers.StateReady})
	h.q.Wake()
	sent := h.waitState(m.ID, store.Sent)
	if sent.Driver != "first" || first.count(m.ID) != 2 || second.count(m.ID) != 0 {
		t.Fatalf("sent by %s; first %d, second %d", sent.Driver, first.count(m.ID), second.count(m.ID))
	}
}
