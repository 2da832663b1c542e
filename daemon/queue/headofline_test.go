package queue

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/store"
	"smsgw/drivers"
)

// TestBusyDeviceDoesNotHoldBackOthers: purpose "a" routes to a phone that is
// down, purpose "b" to a phone that is up and idle. The dispatcher reads
// few due messages at a time (4*free_slots+4); a backlog of "a" messages
// earlier in the queue than one full batch must not stop a later "b"
// message from being sent: the dispatcher looks past what it cannot place.
func TestBusyDeviceDoesNotHoldBackOthers(t *testing.T) {
	down, up := newFake(), newFake()
	h := newHarness(t, down, func(o *Options) {
		o.Devices = []Device{
			{Name: "down", Type: "fake", Driver: down, Concurrency: 1},
			{Name: "up", Type: "fake", Driver: up, Concurrency: 1},
		}
		o.Routes = map[string][]string{"a": {"down"}, "b": {"up"}}
	})
	h.q.devices["down"].setHealth(drivers.Health{State: drivers.StateDown})
	now := *h.now.Load()
	submit := func(purpose string, due time.Time) *store.Message {
		m := &store.Message{
			ID: ulid.Make().String(), Client: "local", To: "+33612345678", Purpose: purpose, Template: "otp_code",
			MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: due, ExpiresAt: now.Add(time.Hour), Parts: 1,
		}
		if err := h.q.Submit(context.Background(), m, nil, store.Admission{}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for range 8 {
		submit("a", now.Add(-time.Second))
	}
	b := submit("b", now)
	h.run()

	// The deadline only bounds the wait; the up phone is idle throughout.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if m, _ := h.st.Get(context.Background(), b.ID); m != nil && m.State == store.Sent {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, _ := h.st.Get(context.Background(), b.ID)
	t.Fatalf("message for the idle phone is still %s, sends on it: %d: blocked behind messages for a phone that is down", m.State, up.count(b.ID))
}
