package store

import (
	"context"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestEventsExpireWithRecord: a message's record and events expire
// together, also when it moves between two retained states later (sent →
// delivered, or unknown → failed by a late report): the older events take
// the record's refreshed expiry.
func TestEventsExpireWithRecord(t *testing.T) {
	s, err := Open(Options{InMemory: true, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	m := newMessage(time.Now())
	if err := s.Create(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Change{
		{From: []State{Queued}, To: Sending, Reason: "leased"},
		{From: []State{Sending}, To: Unknown, Reason: "uncertain"},
	} {
		if _, err := s.Transition(ctx, m.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	// Badger's expiry has a one-second resolution: let it tick, then a
	// late delivery report resolves the held message.
	time.Sleep(1100 * time.Millisecond)
	if _, err := s.Transition(ctx, m.ID, Change{From: []State{Unknown}, To: Delivered, Reason: "delivery_report"}); err != nil {
		t.Fatal(err)
	}
	key, _ := parseID(m.ID)
	err = s.db.View(func(txn *badger.Txn) error {
		rec, err := txn.Get(messageKey(key))
		if err != nil {
			return err
		}
		for seq := 1; seq <= 4; seq++ {
			ev, err := txn.Get(eventKey(key, seq))
			if err != nil {
				return err
			}
			if ev.ExpiresAt() != rec.ExpiresAt() {
				t.Errorf("event %d expires at %d, the record at %d: they do not expire together", seq, ev.ExpiresAt(), rec.ExpiresAt())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
