package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// openBoth runs a test against an in-memory and an on-disk store.
func openBoth(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	for _, mode := range []string{"memory", "disk"} {
		t.Run(mode, func(t *testing.T) {
			opt := Options{InMemory: mode == "memory"}
			if mode == "disk" {
				opt.Dir = t.TempDir()
			}
			s, err := Open(opt)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			fn(t, s)
		})
	}
}

func newMessage(at time.Time) *Message {
	return &Message{
		ID:           ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String(),
		Client:       "local",
		To:           "+33612345678",
		Purpose:      "otp",
		Template:     "otp_code",
		Params:       map[string]string{"code": "123456", "note": "x"},
		SecretParams: []string{"code"},
		State:        Queued,
		MaxAttempts:  5,
		CreatedAt:    at,
		UpdatedAt:    at,
		DueAt:        at,
		ExpiresAt:    at.Add(5 * time.Minute),
	}
}

func TestCreateGetEvents(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m := newMessage(time.Now())
		if err := s.Create(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != Queued || got.To != m.To || got.Params["code"] != "123456" {
			t.Fatalf("got %+v", got)
		}
		evs, err := s.Events(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].To != Queued || evs[0].Reason != "accepted" || evs[0].Seq != 1 {
			t.Fatalf("events %+v", evs)
		}
		if _, err := s.Get(ctx, ulid.Make().String()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing id: %v", err)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("bad id: %v", err)
		}
	})
}

func TestTransitionsMoveIndexesAndEraseSecrets(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now()
		m := newMessage(now)
		if err := s.Create(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		steps := []Change{
			{From: []State{Queued}, To: Sending, Reason: "leased", Driver: "sim", Mutate: func(m *Message) { m.Attempts++ }},
			{From: []State{Sending}, To: Sent, Reason: "accepted_by_device", Driver: "sim", Mutate: func(m *Message) { m.DriverRef = "r1" }},
			{From: []State{Sent}, To: Delivered, Reason: "delivery_report"},
		}
		for _, c := range steps {
			if _, err := s.Transition(ctx, m.ID, c); err != nil {
				t.Fatalf("%s: %v", c.To, err)
			}
			ids, _, err := s.Due(ctx, now.Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 0 {
				t.Fatalf("after %s the due index still has %v", c.To, ids)
			}
			for _, st := range States {
				in, _ := s.InState(ctx, st)
				want := 0
				if st == c.To {
					want = 1
				}
				if len(in) != want {
					t.Fatalf("after %s state index %s has %d", c.To, st, len(in))
				}
			}
		}
		got, _ := s.Get(ctx, m.ID)
		if _, ok := got.Params["code"]; ok || !got.Erased {
			t.Fatalf("secret param survived a terminal state: %+v", got.Params)
		}
		if got.Params["note"] != "x" {
			t.Fatalf("non-secret param lost: %+v", got.Params)
		}
		if got.DriverRef != "r1" || got.Attempts != 1 {
			t.Fatalf("mutations lost: %+v", got)
		}
		evs, _ := s.Events(ctx, m.ID)
		if len(evs) != 4 || evs[3].From != Sent || evs[3].To != Delivered {
			t.Fatalf("events %+v", evs)
		}
		_, err := s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Cancelled})
		var se *StateError
		if !errors.As(err, &se) || se.Have != Delivered {
			t.Fatalf("cancel of delivered: %v", err)
		}
	})
}

func TestIdempotencyKeyDuplicate(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := newMessage(time.Now())
		idem := &Idempotency{Client: "local", Key: "k1", Fingerprint: "fp", Response: []byte(`{"id":"x"}`), MessageID: a.ID}
		if err := s.Create(ctx, a, idem); err != nil {
			t.Fatal(err)
		}
		b := newMessage(time.Now())
		err := s.Create(ctx, b, &Idempotency{Client: "local", Key: "k1", Fingerprint: "other", MessageID: b.ID})
		var dup *DuplicateKeyError
		if !errors.As(err, &dup) || dup.Existing.MessageID != a.ID || string(dup.Existing.Response) != `{"id":"x"}` {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := s.Get(ctx, b.ID); !errors.Is(err, ErrNotFound) {
			t.Fatal("the refused message was stored")
		}
		// Keys are per client.
		if err := s.Create(ctx, b, &Idempotency{Client: "other", Key: "k1", MessageID: b.ID}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentIdempotentCreatesStoreOne(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, dups := 0, 0
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := newMessage(time.Now())
				err := s.Create(ctx, m, &Idempotency{Client: "local", Key: "same", MessageID: m.ID})
				mu.Lock()
				defer mu.Unlock()
				var dup *DuplicateKeyError
				switch {
				case err == nil:
					created++
				case errors.As(err, &dup):
					dups++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if created != 1 || dups != 49 {
			t.Fatalf("created %d, duplicates %d", created, dups)
		}
		st, _ := s.Stats(ctx)
		if st.ByState[Queued] != 1 {
			t.Fatalf("stored %d messages", st.ByState[Queued])
		}
	})
}

func TestConcurrentTransitionOneWins(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m := newMessage(time.Now())
		if err := s.Create(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make(chan error, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Sending, Mutate: func(m *Message) { m.Attempts++ }})
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			var se *StateError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &se):
			default:
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, m.ID)
		if wins != 1 || got.Attempts != 1 {
			t.Fatalf("wins %d attempts %d", wins, got.Attempts)
		}
	})
}

func TestDueOrderAcrossDigitBoundaries(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		base := time.UnixMilli(9_999)
		dues := []int64{100_000, 9_999, 10_000, 99_999, 1_000_000, 2}
		for _, d := range dues {
			m := newMessage(time.Now())
			m.DueAt = base.Add(time.Duration(d) * time.Millisecond)
			if err := s.Create(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
		ids, next, err := s.Due(ctx, base.Add(100_000*time.Millisecond), 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, id := range ids {
			m, _ := s.Get(ctx, id)
			got = append(got, m.DueAt.Sub(base).Milliseconds())
		}
		want := []int64{2, 9_999, 10_000, 99_999, 100_000}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("due order %v, want %v", got, want)
		}
		if !next.Equal(base.Add(1_000_000 * time.Millisecond)) {
			t.Fatalf("next due %v", next)
		}
	})
}

func TestListFiltersAndPaging(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		start := time.Now().Add(-time.Hour)
		var ids []string
		for i := range 25 {
			m := newMessage(start.Add(time.Duration(i) * time.Second))
			if i%5 == 0 {
				m.Purpose = "reminder"
			}
			if err := s.Create(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		for _, id := range ids[:3] {
			if _, err := s.Transition(ctx, id, Change{From: []State{Queued}, To: Cancelled}); err != nil {
				t.Fatal(err)
			}
		}
		// Page through everything, newest first.
		var seen []string
		cursor := ""
		for {
			page, next, err := s.List(ctx, Filter{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				seen = append(seen, m.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 25 || seen[0] != ids[24] || seen[24] != ids[0] {
			t.Fatalf("paging saw %d, first %s", len(seen), seen[0])
		}
		cases := []struct {
			name string
			f    Filter
			want int
		}{
			{"state", Filter{States: []State{Cancelled}}, 3},
			{"two states", Filter{States: []State{Cancelled, Queued}}, 25},
			{"purpose", Filter{Purpose: "reminder"}, 5},
			{"purpose and state", Filter{Purpose: "reminder", States: []State{Queued}}, 4},
			{"since", Filter{Since: start.Add(20 * time.Second)}, 5},
			{"until", Filter{Until: start.Add(4*time.Second + time.Millisecond)}, 5},
			{"to", Filter{To: "+33600000000"}, 0},
			{"dead", Filter{DeadOnly: true}, 0},
		}
		for _, c := range cases {
			got, _, err := s.List(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("%s: %d messages, want %d", c.name, len(got), c.want)
			}
		}
	})
}

func TestDeadLetterIndex(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m := newMessage(time.Now())
		_ = s.Create(ctx, m, nil)
		_, _ = s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Sending})
		if _, err := s.Transition(ctx, m.ID, Change{From: []State{Sending}, To: Failed, Reason: "retries_exhausted", Mutate: func(m *Message) { m.Dead = true }}); err != nil {
			t.Fatal(err)
		}
		dead, _, _ := s.List(ctx, Filter{DeadOnly: true})
		st, _ := s.Stats(ctx)
		if len(dead) != 1 || st.DeadLetters != 1 {
			t.Fatalf("dead %d stats %d", len(dead), st.DeadLetters)
		}
		if _, err := s.Transition(ctx, m.ID, Change{From: []State{Failed}, To: Queued, Reason: "requeued", Mutate: func(m *Message) { m.Dead = false }}); err != nil {
			t.Fatal(err)
		}
		dead, _, _ = s.List(ctx, Filter{DeadOnly: true})
		ids, _, _ := s.Due(ctx, time.Now().Add(time.Hour), 10)
		if len(dead) != 0 || len(ids) != 1 {
			t.Fatalf("after requeue: dead %d due %d", len(dead), len(ids))
		}
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := newMessage(time.Now())
	_ = s.Create(ctx, m, &Idempotency{Client: "local", Key: "k", MessageID: m.ID})
	_, _ = s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Sending, Reason: "leased"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, m.ID)
	if err != nil || got.State != Sending {
		t.Fatalf("after reopen: %v %+v", err, got)
	}
	in, _ := s.InState(ctx, Sending)
	evs, _ := s.Events(ctx, m.ID)
	rec, err := s.Idempotency(ctx, "local", "k")
	if len(in) != 1 || len(evs) != 2 || err != nil || rec.MessageID != m.ID {
		t.Fatalf("indexes after reopen: sending %d events %d idem %v", len(in), len(evs), err)
	}
}
