package store

import (
	"context"
	"testing"
	"time"
)

// TestDueFloorNeverHidesALiveKey checks the scan floor: after scans moved
// it forward, a message due long before it (a requeue with an old due time,
// or a clock read a little apart) is still found.
func TestDueFloorNeverHidesALiveKey(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now()
		for range 3 {
			m := newMessage(now)
			if err := s.Create(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Sending}); err != nil {
				t.Fatal(err)
			}
		}
		// An empty scan raises the floor to now less the margin.
		if ids, _, _ := s.Due(ctx, now.Add(time.Hour), 10); len(ids) != 0 {
			t.Fatalf("due %v", ids)
		}
		if floor, _ := s.due.get(); floor < now.Add(-2*dueMargin).UnixMilli() {
			t.Fatalf("floor %d did not move", floor)
		}
		old := newMessage(now)
		old.DueAt = now.Add(-24 * time.Hour)
		if err := s.Create(ctx, old, nil); err != nil {
			t.Fatal(err)
		}
		ids, _, err := s.Due(ctx, now, 10)
		if err != nil || len(ids) != 1 || ids[0] != old.ID {
			t.Fatalf("a key below the floor was hidden: %v %v", ids, err)
		}
	})
}
