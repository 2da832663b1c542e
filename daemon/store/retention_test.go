package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetentionExpiresTerminalRecords checks that a terminal message, its
// index keys and its events expire together after the retention, while a
// queued message stays. Badger's TTL has a one-second resolution, so the
// test waits past it; it asserts the outcome, not a duration.
func TestRetentionExpiresTerminalRecords(t *testing.T) {
	s, err := Open(Options{InMemory: true, Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	done := newMessage(time.Now())
	live := newMessage(time.Now())
	for _, m := range []*Message{done, live} {
		if err := s.Create(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Transition(ctx, done.ID, Change{From: []State{Queued}, To: Cancelled, Reason: "cancelled_by_client"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Get(ctx, done.ID)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("terminal record never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
	evs, _ := s.Events(ctx, done.ID)
	cancelled, _ := s.InState(ctx, Cancelled)
	if len(evs) != 0 || len(cancelled) != 0 {
		t.Fatalf("left behind: %d events, %d state keys", len(evs), len(cancelled))
	}
	if m, err := s.Get(ctx, live.ID); err != nil || m.State != Queued {
		t.Fatalf("queued message lost: %v", err)
	}
	if ids, _, _ := s.Due(ctx, time.Now(), 10); len(ids) != 1 {
		t.Fatalf("due index has %d", len(ids))
	}
}
