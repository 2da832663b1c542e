package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkAdmit measures the stored policy gate: one Admit creates a
// message in the transaction that reads the opt-out record and each rate
// window and rewrites the windows. The clock moves 100 ms per message and
// recipients rotate over 10,000 numbers, so no limit is reached and every
// window stays at its steady size (a few entries per recipient, up to 600
// for the client and global windows).
func BenchmarkAdmit(b *testing.B) {
	perRecipient := []Limit{
		{Scope: ScopeRecipientPurpose, Count: 5, Window: time.Hour},
		{Scope: ScopeRecipient, Count: 10, Window: time.Hour},
	}
	allScopes := append(append([]Limit(nil), perRecipient...),
		Limit{Scope: ScopeClientPurpose, Count: 1000, Window: time.Minute},
		Limit{Scope: ScopeClient, Count: 1000, Window: time.Minute},
		Limit{Scope: ScopeGlobal, Count: 10000, Window: time.Minute},
	)
	numbers := make([]string, 10000)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+3361%07d", i)
	}
	for _, bb := range []struct {
		name string
		adm  Admission
	}{
		{"opt-out-only", Admission{CheckOptOut: true}},
		{"recipient-limits", Admission{CheckOptOut: true, Limits: perRecipient}},
		{"all-scopes", Admission{CheckOptOut: true, Limits: allScopes}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
			s, err := Open(Options{InMemory: true, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m := newMessage(now)
				m.To = numbers[i%len(numbers)]
				if err := s.Admit(ctx, m, nil, bb.adm); err != nil {
					b.Fatalf("message %d: %v", i, err)
				}
				i++
				now = now.Add(100 * time.Millisecond)
			}
		})
	}
}
