package queue

import (
	"context"
	"testing"
	"time"

	"smsgw/daemon/store"
)

// TestExpiredLeaseIsResolvedNotResent: a message whose lease ran out while
// no send holds it (its outcome could not be recorded) is held in unknown;
// one whose send is still running in this process is left alone.
func TestExpiredLeaseIsResolvedNotResent(t *testing.T) {
	drv := newFake()
	h := newHarness(t, drv, nil)
	ctx := context.Background()
	lease := func(m *store.Message) {
		t.Helper()
		if _, err := h.st.Transition(ctx, m.ID, store.Change{From: []store.State{store.Queued}, To: store.Sending, Driver: "dev",
			Mutate: func(m *store.Message) { m.Attempts++; m.LeaseUntil = h.now.Load().Add(time.Minute) }}); err != nil {
			t.Fatal(err)
		}
	}
	orphan, held := h.submit(time.Hour), h.submit(time.Hour)
	lease(orphan)
	lease(held)
	h.q.sending.Store(held.ID, struct{}{})

	if err := h.q.reapExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.st.Get(ctx, orphan.ID); m.State != store.Sending {
		t.Fatalf("a live lease was reaped: %s", m.State)
	}
	later := h.now.Load().Add(2 * time.Minute)
	h.now.Store(&later)
	if err := h.q.reapExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.st.Get(ctx, orphan.ID); m.State != store.Unknown {
		t.Fatalf("expired lease left in %s", m.State)
	}
	if m, _ := h.st.Get(ctx, held.ID); m.State != store.Sending {
		t.Fatalf("a message whose send is running was reaped: %s", m.State)
	}
	if drv.count(orphan.ID) != 0 {
		t.Fatal("the orphaned message was resent")
	}
}
