package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestAdmitRateLimitExactUnderConcurrency submits 64 messages at once to
// one recipient whose limit is 5: exactly 5 are accepted, and after a
// restart the window still holds them.
func TestAdmitRateLimitExactUnderConcurrency(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(Options{Dir: dir, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	adm := Admission{Limits: []Limit{{Scope: ScopeRecipient, Count: 5, Window: time.Hour}}}
	const n = 64
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		accepted, limit int
		other           []error
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := s.Admit(context.Background(), newMessage(now), nil, adm)
			var rl *RateLimitError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &rl):
				limit++
				if rl.Limit.Scope != ScopeRecipient || rl.RetryAfter != time.Hour {
					other = append(other, err)
				}
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if accepted != 5 || limit != n-5 || len(other) > 0 {
		t.Fatalf("accepted %d, rate limited %d, other errors %v; want 5, %d, none", accepted, limit, other, n-5)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart resets nothing.
	s, err = Open(Options{Dir: dir, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rl *RateLimitError
	if err := s.Admit(context.Background(), newMessage(now), nil, adm); !errors.As(err, &rl) {
		t.Fatalf("after restart: %v, want a rate limit", err)
	}
	// Another number has its own window.
	m := newMessage(now)
	m.To = "+33612345679"
	if err := s.Admit(context.Background(), m, nil, adm); err != nil {
		t.Fatalf("another recipient: %v", err)
	}
	// The window slides: an hour later a slot is free again.
	now = now.Add(time.Hour + time.Millisecond)
	if err := s.Admit(context.Background(), newMessage(now), nil, adm); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestAdmitScopes(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		scope LimitScope
		// vary changes the second message so that it falls in another
		// window of the scope, or nil when no variation escapes it.
		vary func(m *Message)
	}{
		{ScopeRecipient, func(m *Message) { m.To = "+33612345679" }},
		{ScopeRecipientPurpose, func(m *Message) { m.Purpose = "reminder" }},
		{ScopeClient, func(m *Message) { m.Client = "other" }},
		{ScopeClientPurpose, func(m *Message) { m.Purpose = "reminder" }},
		{ScopeGlobal, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.scope), func(t *testing.T) {
			s, err := Open(Options{InMemory: true, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			adm := Admission{Limits: []Limit{{Scope: tt.scope, Count: 1, Window: time.Minute}}}
			ctx := context.Background()
			if err := s.Admit(ctx, newMessage(now), nil, adm); err != nil {
				t.Fatal(err)
			}
			var rl *RateLimitError
			if err := s.Admit(ctx, newMessage(now), nil, adm); !errors.As(err, &rl) || rl.Limit.Scope != tt.scope {
				t.Fatalf("second message: %v, want the %s limit", err, tt.scope)
			}
			if tt.vary != nil {
				m := newMessage(now)
				tt.vary(m)
				if err := s.Admit(ctx, m, nil, adm); err != nil {
					t.Fatalf("a message outside the window's scope: %v", err)
				}
			}
		})
	}
}

func TestAdmitOptOutAndConsent(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now()
		m := newMessage(now)
		if err := s.Admit(ctx, m, nil, Admission{RequireConsent: true}); !errors.Is(err, ErrConsentMissing) {
			t.Fatalf("without consent: %v", err)
		}
		if _, err := s.SetConsent(ctx, m.To, "otp", true, "test"); err != nil {
			t.Fatal(err)
		}
		if err := s.Admit(ctx, newMessage(now), nil, Admission{RequireConsent: true, CheckOptOut: true}); err != nil {
			t.Fatalf("with consent: %v", err)
		}
		if changed, err := s.SetOptOut(ctx, m.To, true, "test", "stop"); err != nil || !changed {
			t.Fatalf("opt out: %v %v", changed, err)
		}
		if changed, _ := s.SetOptOut(ctx, m.To, true, "test", "stop"); changed {
			t.Error("a second opt-out changed something")
		}
		if err := s.Admit(ctx, newMessage(now), nil, Admission{CheckOptOut: true}); !errors.Is(err, ErrOptedOut) {
			t.Fatalf("opted out: %v", err)
		}
		// Exempt messages (the STOP confirmation) skip the list.
		if err := s.Admit(ctx, newMessage(now), nil, Admission{}); err != nil {
			t.Fatalf("exempt: %v", err)
		}
		list, err := s.OptOuts(ctx)
		if err != nil || len(list) != 1 || list[0].Recipient != "+336******78" {
			t.Fatalf("opt-outs %+v %v, want one masked number", list, err)
		}
		if _, err := s.SetOptOut(ctx, m.To, false, "test", "start"); err != nil {
			t.Fatal(err)
		}
		if out, _ := s.IsOptedOut(ctx, m.To); out {
			t.Error("still opted out after START")
		}
		j, err := s.Journal(ctx, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range j {
			kinds = append(kinds, e.Kind)
			if e.Recipient != "+336******78" {
				t.Errorf("journal recipient %q is not masked", e.Recipient)
			}
		}
		want := []string{JournalOptedIn, JournalOptedOut, JournalConsentAdded}
		if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
			t.Errorf("journal kinds = %v, want %v (newest first)", kinds, want)
		}
	})
}

// TestErasureLeavesNothingOnDisk delivers a message with a secret code and
// then scans every file of the data directory, with and without
// encryption at rest: neither the code nor the number may be found.
func TestErasureLeavesNothingOnDisk(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opt := Options{Dir: dir}
			if encrypted {
				opt.EncryptionKey = bytes.Repeat([]byte{7}, 32)
			}
			s, err := Open(opt)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const code, number = "90817263", "+33698765432"
			m := newMessage(time.Now())
			m.To = number
			m.Params = map[string]string{"code": code}
			idem := &Idempotency{Client: "local", Key: "k", Fingerprint: "f", Response: []byte(`{"to":"+336******32"}`), MessageID: m.ID}
			if err := s.Admit(ctx, m, idem, Admission{Limits: []Limit{{Scope: ScopeRecipient, Count: 5, Window: time.Hour}}}); err != nil {
				t.Fatal(err)
			}
			// While live, the message reads back whole.
			got, err := s.Get(ctx, m.ID)
			if err != nil || got.To != number || got.Params["code"] != code {
				t.Fatalf("live message %+v %v", got, err)
			}
			for _, c := range []Change{
				{From: []State{Queued}, To: Sending, Reason: "leased"},
				{From: []State{Sending}, To: Sent, Reason: "accepted_by_device"},
				{From: []State{Sent}, To: Delivered, Reason: "delivery_report"},
			} {
				if _, err := s.Transition(ctx, m.ID, c); err != nil {
					t.Fatal(err)
				}
			}
			got, err = s.Get(ctx, m.ID)
			if err != nil || got.To != "" || got.Params["code"] != "" || !got.Erased || got.ToMasked != "+336******32" {
				t.Fatalf("delivered message %+v %v: want the number and code gone, the mask kept", got, err)
			}
			// The first answer (written without personal data by the API)
			// is still replayed verbatim; the fingerprint is keyed.
			if rec, err := s.Idempotency(ctx, "local", "k"); err != nil || string(rec.Response) != `{"to":"+336******32"}` || rec.Fingerprint == "f" {
				t.Fatalf("idempotency record after erasure %+v %v", rec, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			scanDir(t, dir, code, number, number[1:])
			// The sealed copies left in Badger's files are unrecoverable
			// only if the key is gone: every slot must read zero.
			keys, err := os.ReadFile(filepath.Join(dir, keyFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) == 0 || !bytes.Equal(keys, make([]byte, len(keys))) {
				t.Errorf("key file holds %d bytes, not all zero: the message key survived", len(keys))
			}
		})
	}
}

// scanDir fails if any file under dir contains one of needles.
func scanDir(t *testing.T, dir string, needles ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				t.Errorf("%s holds %q", filepath.Base(path), n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("scanned %d files; the store wrote fewer than expected", files)
	}
}

func TestSweepKeysErasesOrphans(t *testing.T) {
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A slot whose message never committed, as after a crash.
	slot, _, err := s.keys.alloc()
	if err != nil {
		t.Fatal(err)
	}
	s.keys.committed(slot)
	m := newMessage(time.Now())
	if err := s.Create(context.Background(), m, nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepKeys()
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the one orphan", n, err)
	}
	if got, err := s.Get(context.Background(), m.ID); err != nil || got.To != m.To {
		t.Fatalf("the live message lost its key: %+v %v", got, err)
	}
}
