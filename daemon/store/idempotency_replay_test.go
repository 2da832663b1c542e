package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReplayBeatsRateLimit: a client retries an accepted submission with
// the same Idempotency-Key and payload (its first answer was lost). The
// retry is answered with the stored first response even when the rate
// window is now full or the recipient opted out since.
func TestReplayBeatsRateLimit(t *testing.T) {
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	adm := Admission{CheckOptOut: true, Limits: []Limit{{Scope: ScopeRecipient, Count: 1, Window: time.Hour}}}
	first := newMessage(time.Now())
	idem := func(m *Message) *Idempotency {
		return &Idempotency{Client: "local", Key: "order-42", Fingerprint: "same-payload", Response: []byte(`{"id":"` + first.ID + `"}`), MessageID: m.ID}
	}
	if err := s.Admit(ctx, first, idem(first), adm); err != nil {
		t.Fatal(err)
	}
	retry := newMessage(time.Now())
	err = s.Admit(ctx, retry, idem(retry), adm)
	var dup *DuplicateKeyError
	if !errors.As(err, &dup) || !dup.SamePayload || dup.Existing.MessageID != first.ID {
		t.Errorf("retry with the same key under a full rate window: got %v, want a replay of %s", err, first.ID)
	}

	// Same after the recipient opted out: the retry of an accepted
	// request says "opted out" instead of replaying.
	if _, err := s.SetOptOut(ctx, first.To, true, "test", ""); err != nil {
		t.Fatal(err)
	}
	retry2 := newMessage(time.Now())
	err = s.Admit(ctx, retry2, idem(retry2), Admission{CheckOptOut: true})
	if !errors.As(err, &dup) {
		t.Errorf("retry with the same key after an opt-out: got %v, want a replay of %s", err, first.ID)
	}
}
