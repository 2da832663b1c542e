package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The event feed is one global, time-ordered log of what happened: every
// message transition and every device state change, keyed f<seq:8>. The
// API streams it (server-sent events, resumable with Last-Event-ID) and the
// webhook worker delivers it.
//
// Sequence numbers come from a Badger sequence (leased in blocks and
// persisted under feedSeqKey), so they only grow, across restarts too; a
// restart or an aborted transaction leaves a gap, never a repeat. A number
// is taken inside the transaction that writes the entry, so transactions
// can commit out of number order. Readers therefore read only up to the
// horizon: the highest number below which no transaction is still open.
// Nothing can later appear below the horizon, so a reader that resumes
// after the last number it saw misses nothing.
//
// Entries carry no phone number, text or params. They expire after
// store.retention.

// Feed entry kinds.
const (
	FeedMessage = "message.status"
	FeedDevice  = "device.status"
)

// FeedEntry is one entry of the event feed.
type FeedEntry struct {
	Seq  uint64    `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Client owns the message; empty for device entries, which every
	// client sees.
	Client string `json:"client,omitempty"`
	// Message status changes.
	MessageID string `json:"message_id,omitempty"`
	Purpose   string `json:"purpose,omitempty"`
	From      State  `json:"from,omitempty"`
	To        State  `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Driver    string `json:"driver,omitempty"`
	// Device changes: Device and its new State (ready, degraded, down).
	Device      string `json:"device,omitempty"`
	DeviceState string `json:"device_state,omitempty"`
}

const pFeed = 'f'

// feedSeqKey persists the feed sequence's lease.
var feedSeqKey = []byte("Ffeed")

// feedSeqBandwidth is how many numbers one lease covers.
const feedSeqBandwidth = 1000

func feedKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pFeed}, seq)
}

// feed hands out sequence numbers and tracks the horizon.
type feed struct {
	seq *badger.Sequence

	mu      sync.Mutex
	last    uint64              // highest number handed out, or found at open
	pending map[uint64]struct{} // numbers whose transaction is still open
	byTxn   map[*badger.Txn][]uint64
	changed chan struct{} // closed and replaced when the horizon moves
}

func openFeed(db *badger.DB) (*feed, error) {
	seq, err := db.GetSequence(feedSeqKey, feedSeqBandwidth)
	if err != nil {
		return nil, fmt.Errorf("store: feed sequence: %w", err)
	}
	f := &feed{
		seq:     seq,
		pending: map[uint64]struct{}{},
		byTxn:   map[*badger.Txn][]uint64{},
		changed: make(chan struct{}),
	}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte{pFeed}})
		defer it.Close()
		it.Seek(feedKey(^uint64(0)))
		if it.ValidForPrefix([]byte{pFeed}) {
			f.last = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		return nil
	})
	if err != nil {
		_ = seq.Release()
		return nil, fmt.Errorf("store: read feed: %w", err)
	}
	return f, nil
}

// next takes a number for an entry written in txn.
func (f *feed) next(txn *badger.Txn) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.seq.Next()
	if err != nil {
		return 0, fmt.Errorf("store: feed sequence: %w", err)
	}
	n++ // numbers start at 1; 0 means "from the beginning"
	f.pending[n] = struct{}{}
	f.byTxn[txn] = append(f.byTxn[txn], n)
	f.last = max(f.last, n)
	return n, nil
}

// settle marks txn's numbers as done, committed or not.
func (f *feed) settle(txn *badger.Txn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	nums, ok := f.byTxn[txn]
	if !ok {
		return
	}
	delete(f.byTxn, txn)
	for _, n := range nums {
		delete(f.pending, n)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// horizon returns the number up to which the feed is settled, and a
// channel closed when it may have moved.
func (f *feed) horizon() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.last
	for n := range f.pending {
		h = min(h, n-1)
	}
	return h, f.changed
}

func (f *feed) close() error { return f.seq.Release() }

// appendFeed writes e in txn with the retention TTL.
func (s *Store) appendFeed(txn *badger.Txn, e FeedEntry) error {
	seq, err := s.feed.next(txn)
	if err != nil {
		return err
	}
	e.Seq = seq
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(feedKey(seq), b).WithTTL(s.opt.Retention))
}

// AppendDevice records a device state change in the feed.
func (s *Store) AppendDevice(ctx context.Context, device, state, detail string) error {
	return s.update(ctx, func(txn *badger.Txn) error {
		return s.appendFeed(txn, FeedEntry{At: s.now(), Kind: FeedDevice, Device: device, DeviceState: state, Detail: detail})
	})
}

// FeedChanged returns a channel closed when new feed entries may be
// readable; take a new one after each wake-up.
func (s *Store) FeedChanged() <-chan struct{} {
	_, ch := s.feed.horizon()
	return ch
}

// Feed returns up to limit entries numbered after after, oldest first, and
// never beyond the horizon, so that resuming after the last entry returned
// misses nothing.
func (s *Store) Feed(ctx context.Context, after uint64, limit int) ([]FeedEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	h, _ := s.feed.horizon()
	if after >= h {
		return nil, ctx.Err()
	}
	var out []FeedEntry
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pFeed}, PrefetchValues: true, PrefetchSize: min(limit, 100)})
		defer it.Close()
		for it.Seek(feedKey(after + 1)); it.ValidForPrefix([]byte{pFeed}) && len(out) < limit; it.Next() {
			seq := binary.BigEndian.Uint64(it.Item().Key()[1:])
			if seq > h {
				break
			}
			var e FeedEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("feed entry %d: %w", seq, err)
			}
			out = append(out, e)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: read feed: %w", err)
	}
	return out, nil
}
