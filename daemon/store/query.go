package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// Due returns the ids of queued messages due at or before now, earliest
// first, at most limit of them, and the due time of the next message after
// those (zero when there is none).
func (s *Store) Due(ctx context.Context, now time.Time, limit int) (ids []string, next time.Time, err error) {
	ids, next, _, err = s.DuePage(ctx, now, limit, nil)
	return ids, next, err
}

// DuePage is Due starting after the cursor a previous page returned (nil:
// from the start), so a caller can look past messages it cannot place.
func (s *Store) DuePage(ctx context.Context, now time.Time, limit int, after []byte) (ids []string, next time.Time, cursor []byte, err error) {
	floor, version := s.due.get()
	first := int64(-1)
	start := dueKey(time.UnixMilli(floor), [16]byte{})
	if after != nil && bytes.Compare(after, start) >= 0 {
		start = append(slices.Clone(after), 0)
	}
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pDue}})
		defer it.Close()
		nowMS := uint64(max(now.UnixMilli(), 0))
		for it.Seek(start); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != 25 {
				continue
			}
			due := binary.BigEndian.Uint64(k[1:9])
			if first < 0 {
				first = int64(due)
			}
			if due > nowMS || len(ids) >= limit {
				next = time.UnixMilli(int64(due))
				return nil
			}
			ids = append(ids, idString(k[9:]))
			cursor = it.Item().KeyCopy(cursor[:0])
		}
		return nil
	})
	if err == nil && after == nil {
		s.due.raise(now, first, version)
	}
	return ids, next, cursor, err
}

// InState returns the ids of every message in state st, oldest first.
func (s *Store) InState(ctx context.Context, st State) ([]string, error) {
	var ids []string
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte{pState, stateCode(st)}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, idString(it.Item().Key()[2:]))
		}
		return nil
	})
	return ids, err
}

// Default and largest page sizes of List.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// List returns messages matching f, newest first, and a cursor for the next
// page (empty on the last page).
func (s *Store) List(ctx context.Context, f Filter) ([]*Message, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)

	// Pick the narrowest index that can drive the scan. Ids are ULIDs, so
	// every index is in creation order within its prefix.
	prefix := []byte{pMessage}
	switch {
	case f.DeadOnly:
		prefix = []byte{pDead}
	case len(f.States) == 1:
		prefix = []byte{pState, stateCode(f.States[0])}
	}
	// Seek (in reverse) from just below the cursor, or from the upper time
	// bound, whichever is lower.
	upper := append(slices.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...)
	if !f.Until.IsZero() {
		var u ulid.ULID
		if err := u.SetTime(ulid.Timestamp(f.Until) + 1); err == nil {
			upper = append(slices.Clone(prefix), u[:]...)
		}
	}
	if f.Cursor != "" {
		c, err := parseID(f.Cursor)
		if err != nil {
			return nil, "", errors.New("invalid cursor")
		}
		if k := append(slices.Clone(prefix), c[:]...); bytes.Compare(k, upper) < 0 {
			upper = k
		}
	}
	if f.To != "" {
		f.toHash = s.recipientHash(f.To)
	}
	var sinceMS uint64
	if !f.Since.IsZero() {
		sinceMS = ulid.Timestamp(f.Since)
	}

	var out []*Message
	more := false
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for it.Seek(upper); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if bytes.Equal(k, upper) {
				continue // the cursor itself was on the previous page
			}
			var id [16]byte
			copy(id[:], k[len(prefix):])
			if ulid.ULID(id).Time() < sinceMS {
				break
			}
			m, err := s.getMessage(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !f.matches(m) {
				continue
			}
			if len(out) == limit {
				more = true
				break
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

func (f Filter) matches(m *Message) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, m.State) {
		return false
	}
	if f.DeadOnly && !m.Dead {
		return false
	}
	if f.Purpose != "" && m.Purpose != f.Purpose {
		return false
	}
	if f.To != "" && !bytes.Equal(m.ToHash, f.toHash) {
		return false
	}
	if f.Client != "" && m.Client != f.Client {
		return false
	}
	if !f.Since.IsZero() && m.CreatedAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && m.CreatedAt.After(f.Until) {
		return false
	}
	return true
}

// Stats counts messages by state from the indexes, without reading records.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByState: make(map[State]int, len(States))}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pState}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			code := int(k[1])
			if code < 1 || code > len(States) {
				continue
			}
			state := States[code-1]
			if state == Queued && st.ByState[Queued] == 0 {
				st.OldestQueued = ulid.Time(ulid.ULID(k[2:18]).Time())
			}
			st.ByState[state]++
		}
		dit := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pDead}})
		defer dit.Close()
		for dit.Rewind(); dit.Valid(); dit.Next() {
			st.DeadLetters++
		}
		return nil
	})
	st.QueueDepth = st.ByState[Queued]
	st.Retries = int(s.retries.Load())
	st.LSMBytes, st.VlogBytes = s.db.Size()
	return st, err
}

// RunGC reclaims value-log space every interval until ctx is done. Each
// pass rewrites files while Badger finds one worth rewriting.
func (s *Store) RunGC(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rewritten := 0
		for ctx.Err() == nil {
			err := s.db.RunValueLogGC(0.5)
			if err == nil {
				rewritten++
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value log GC failed", slog.Any("err", err))
			}
			break
		}
		if n, err := s.SweepKeys(); err != nil {
			s.log.Warn("sweeping message keys", slog.Any("err", err))
		} else if n > 0 {
			s.log.Debug("erased keys of expired messages", slog.Int("keys", n))
		}
		if rewritten > 0 {
			lsm, vlog := s.db.Size()
			s.log.Debug("value log GC", slog.Int("files_rewritten", rewritten), slog.Int64("lsm_bytes", lsm), slog.Int64("vlog_bytes", vlog))
		}
	}
}
