package store

import (
	"context"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestResumedErasureNeverFreesASlotTwice simulates a crash after a slot
// was wiped but before its x<slot> marker was deleted. At the next Open the
// wiped slot reads as free and the erasure is finished again: it must not
// be freed twice, or two new messages would share one key.
func TestResumedErasureNeverFreesASlotTwice(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := newMessage(time.Now())
	if err := s.Create(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	slot := m.KeySlot
	if _, err := s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Cancelled, Reason: "cancelled_by_client"}); err != nil {
		t.Fatal(err)
	}
	// The crash: the slot was wiped and synced, the marker deletion never
	// committed.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(eraseKey(slot), nil) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := newMessage(time.Now()), newMessage(time.Now())
	a.To, b.To = "+33611111111", "+33622222222"
	for _, x := range []*Message{a, b} {
		if err := s.Create(ctx, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	assertSlotsUnique(t, s)
	if a.KeySlot == b.KeySlot {
		t.Errorf("two live messages were given the same key slot %d", a.KeySlot)
	}
	got, err := s.Get(ctx, a.ID)
	if err != nil || got.To != a.To {
		t.Fatalf("first message after its slot was handed out again: %+v, %v", got, err)
	}
}

// TestSweepBetweenCommitAndEraseFreesNothing runs the key sweep in the
// window between a terminal transition's commit and its finishErase (the GC
// loop runs concurrently with the dispatcher): the sweep must leave the
// slot alone, or it would be freed twice and shared by two messages.
func TestSweepBetweenCommitAndEraseFreesNothing(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	m := newMessage(time.Now())
	if err := s.Create(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	// Transition, step by step, with the sweep in between.
	erase := cancelWithoutErasing(t, s, m.ID)
	if n, err := s.SweepKeys(); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("sweep erased %d slot(s) in the window", n)
	}
	s.finishErase(erase)

	a, b := newMessage(time.Now()), newMessage(time.Now())
	a.To, b.To = "+33611111111", "+33622222222"
	for _, x := range []*Message{a, b} {
		if err := s.Create(ctx, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	assertSlotsUnique(t, s)
	if a.KeySlot == b.KeySlot {
		t.Errorf("two live messages were given the same key slot %d", a.KeySlot)
	}
	if got, err := s.Get(ctx, a.ID); err != nil || got.To != a.To {
		t.Fatalf("first message: %+v, %v", got, err)
	}
}

// TestLingeringMarkerNeverWipesAReusedSlot: when a terminal message's
// erasure marker could not be deleted (the deletion failed, or the process
// died first), its slot must stay out of circulation until a later start
// finishes the erasure, so no new message can hold a key the marker will
// wipe.
func TestLingeringMarkerNeverWipesAReusedSlot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	old := newMessage(time.Now())
	if err := s.Create(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	slot := old.KeySlot
	// The terminal transition commits with its marker; then the key is
	// wiped but the marker deletion never lands (finishErase stops there).
	erase := cancelWithoutErasing(t, s, old.ID)
	if err := s.keys.wipe(erase...); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepKeys(); err != nil || n != 0 {
		t.Fatalf("the sweep touched a slot with a pending marker: %d %v", n, err)
	}
	// The slot must be out of circulation: neither free nor waiting in
	// the keys written ahead.
	s.keys.mu.Lock()
	available := s.keys.isFree[slot]
	for _, r := range s.keys.ready {
		available = available || r.slot == slot
	}
	s.keys.mu.Unlock()
	if available {
		t.Fatalf("slot %d can be handed out while its erasure marker remains", slot)
	}
	live := newMessage(time.Now())
	if err := s.Create(ctx, live, nil); err != nil {
		t.Fatal(err)
	}
	if live.KeySlot == slot {
		t.Fatalf("slot %d handed out while its erasure marker remains", slot)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The next start finishes the erasure; the live message is intact and
	// the slot is free again.
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, live.ID)
	if err != nil || got.State != Queued || got.Erased || got.To != live.To || got.Params["code"] != "123456" {
		t.Fatalf("queued message after restart: %+v %v", got, err)
	}
	s.keys.mu.Lock()
	free := s.keys.isFree[slot] && !s.keys.erasing[slot]
	s.keys.mu.Unlock()
	if !free {
		t.Fatalf("the erased slot %d was not freed after the restart", slot)
	}
}

// assertSlotsUnique checks that no slot is free twice or both free and
// waiting to be handed out: either would let two messages share a key.
func assertSlotsUnique(t *testing.T, s *Store) {
	t.Helper()
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	seen := map[uint32]bool{}
	for _, slot := range s.keys.free {
		if seen[slot] {
			t.Fatalf("slot %d is free twice", slot)
		}
		seen[slot] = true
	}
	for _, r := range s.keys.ready {
		if seen[r.slot] {
			t.Fatalf("slot %d is both free and ready", r.slot)
		}
		seen[r.slot] = true
	}
}

// cancelWithoutErasing commits a queued message's cancellation as
// Transition does, but stops before finishErase, so a test can act in the
// window between the commit and the key's erasure. It returns the slots
// finishErase would erase.
func cancelWithoutErasing(t *testing.T, s *Store, id string) []uint32 {
	t.Helper()
	key, err := parseID(id)
	if err != nil {
		t.Fatal(err)
	}
	var erase []uint32
	err = s.update(context.Background(), func(txn *badger.Txn) error {
		erase = erase[:0]
		cur, err := s.getMessage(txn, key)
		if err != nil {
			return err
		}
		_, err = s.apply(txn, key, cur, Change{From: []State{Queued}, To: Cancelled, Reason: "cancelled_by_client"}, &erase)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return erase
}
