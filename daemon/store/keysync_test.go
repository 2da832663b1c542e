package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestAcceptedKeysAreSynced: every key handed to an accepted message is
// covered by an fsync before the message commits, also when accepts run
// concurrently and share one fsync.
func TestAcceptedKeysAreSynced(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Create(context.Background(), newMessage(time.Now()), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.written < 16 || s.keys.synced != s.keys.written {
		t.Fatalf("keys written %d, synced %d", s.keys.written, s.keys.synced)
	}
}
