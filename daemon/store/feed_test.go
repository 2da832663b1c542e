package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestFeedRecordsTransitionsInOrder(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m := newMessage(time.Now())
		m.Client = "shop"
		if err := s.Create(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Transition(ctx, m.ID, Change{From: []State{Queued}, To: Cancelled, Reason: "cancelled"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendDevice(ctx, "sim", "down", "no signal"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Feed(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("feed %+v", got)
		}
		want := []FeedEntry{
			{Kind: FeedMessage, Client: "shop", MessageID: m.ID, To: Queued, Reason: "accepted"},
			{Kind: FeedMessage, Client: "shop", MessageID: m.ID, From: Queued, To: Cancelled, Reason: "cancelled"},
			{Kind: FeedDevice, Device: "sim", DeviceState: "down", Detail: "no signal"},
		}
		for i, w := range want {
			g := got[i]
			if g.Kind != w.Kind || g.Client != w.Client || g.MessageID != w.MessageID || g.From != w.From ||
				g.To != w.To || g.Reason != w.Reason || g.Device != w.Device || g.DeviceState != w.DeviceState {
				t.Errorf("entry %d = %+v, want %+v", i, g, w)
			}
			if i > 0 && g.Seq <= got[i-1].Seq {
				t.Errorf("entry %d has seq %d after %d", i, g.Seq, got[i-1].Seq)
			}
		}
		rest, err := s.Feed(ctx, got[0].Seq, 10)
		if err != nil || len(rest) != 2 || rest[0].Seq != got[1].Seq {
			t.Errorf("Feed after %d = %+v, %v", got[0].Seq, rest, err)
		}
	})
}

// A reader that follows the feed while many writers commit concurrently
// sees every entry exactly once, in increasing order: nothing commits below
// the horizon it has read past.
func TestFeedReaderMissesNothingUnderConcurrency(t *testing.T) {
	openBoth(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const writers, each = 8, 40
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := s.AppendDevice(ctx, fmt.Sprintf("d%d", w), fmt.Sprint(i), ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		writersDone := make(chan struct{})
		go func() { wg.Wait(); close(writersDone) }()

		seen := map[uint64]bool{}
		var after uint64
		read := func() {
			entries, err := s.Feed(ctx, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Seq <= after || seen[e.Seq] {
					t.Fatalf("entry %d after %d, or twice", e.Seq, after)
				}
				seen[e.Seq] = true
				after = e.Seq
			}
		}
		for done := false; !done; {
			select {
			case <-writersDone:
				done = true
			default:
			}
			read()
		}
		for {
			n := len(seen)
			read()
			if len(seen) == n {
				break
			}
		}
		all, err := s.Feed(ctx, 0, writers*each+10)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != writers*each || len(seen) != len(all) {
			t.Fatalf("feed holds %d entries, reader saw %d, want %d", len(all), len(seen), writers*each)
		}
		for _, e := range all {
			if !seen[e.Seq] {
				t.Errorf("the reader missed entry %d", e.Seq)
			}
		}
	})
}

func TestFeedSequenceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendDevice(ctx, "sim", "down", ""); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Feed(ctx, 0, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.FeedHead() != first[0].Seq {
		t.Errorf("head after restart = %d, want %d", s.FeedHead(), first[0].Seq)
	}
	if err := s.AppendDevice(ctx, "sim", "ready", ""); err != nil {
		t.Fatal(err)
	}
	all, err := s.Feed(ctx, 0, 10)
	if err != nil || len(all) != 2 || all[1].Seq <= all[0].Seq || all[0].Seq != first[0].Seq {
		t.Fatalf("feed after restart %+v, %v", all, err)
	}
}
