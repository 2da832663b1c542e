package queue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"smsgw/daemon/store"
	"smsgw/drivers"
)

// TestRequeueChecksInsideItsTransaction: a delivery report that fails a
// held (unknown) message while an operator requeues it makes it a plain,
// erased failure; Requeue must refuse it rather than put a message with no
// recipient back in the queue, so its checks run inside the transaction.
func TestRequeueChecksInsideItsTransaction(t *testing.T) {
	drv := newFake()
	var hook atomic.Pointer[func()]
	var h *harness
	h = newHarness(t, drv, func(o *Options) {
		o.Now = func() time.Time {
			if f := hook.Swap(nil); f != nil {
				(*f)()
			}
			return *h.now.Load()
		}
	})
	ctx := context.Background()
	m := h.submit(time.Hour)
	for _, c := range []store.Change{
		{From: []store.State{store.Queued}, To: store.Sending, Reason: "leased", Driver: "dev"},
		{From: []store.State{store.Sending}, To: store.Unknown, Reason: "timeout_after_write", Driver: "dev"},
	} {
		if _, err := h.st.Transition(ctx, m.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	// The late report lands between Requeue's read and its transition
	// (Requeue reads the clock in between).
	report := func() {
		h.q.applyDelivery(ctx, h.q.devices["dev"], drivers.Event{Kind: drivers.EventDelivery, ID: m.ID, Delivered: false, Reason: "undeliverable"})
	}
	hook.Store(&report)
	got, err := h.q.Requeue(ctx, m.ID)
	if err == nil {
		t.Fatalf("requeued a message the report had failed for good: state %s, erased %v, to %q", got.State, got.Erased, got.To)
	}
}

// TestRequeueOfDeliveredIsAStateError: requeue of a delivered (or
// cancelled) message is refused for its state, not because its secret
// params were erased.
func TestRequeueOfDeliveredIsAStateError(t *testing.T) {
	h := newHarness(t, newFake(), nil)
	ctx := context.Background()
	m := h.submit(time.Hour)
	for _, c := range []store.Change{
		{From: []store.State{store.Queued}, To: store.Sending, Reason: "leased", Driver: "dev"},
		{From: []store.State{store.Sending}, To: store.Delivered, Reason: "delivery_report", Driver: "dev"},
	} {
		if _, err := h.st.Transition(ctx, m.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.q.Requeue(ctx, m.ID)
	var se *store.StateError
	if !errors.As(err, &se) {
		t.Fatalf("requeue of a delivered message: %v, want a *store.StateError (409 invalid_state)", err)
	}
}
