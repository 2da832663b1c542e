// Package store keeps smsgw's messages, their events and the idempotency keys
// in Badger. Every state transition is one transaction that checks the
// current state, rewrites the record, moves the index keys and appends an
// event, so a crash leaves either the old state or the new one, never a mix.
package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dgraph-io/badger/v4/options"
	"smsgw/daemon/logging"
)

// Options configures Open.
type Options struct {
	// Dir holds the database. Empty with InMemory set means no files (tests).
	Dir      string
	InMemory bool
	// tune, set by benchmarks, replaces Badger's options before opening.
	tune func(badger.Options) badger.Options
	// Retention is how long records stay once they leave the active states.
	Retention time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	Log            *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// EncryptionKey, when set (16, 24 or 32 bytes), encrypts Badger's
	// files at rest.
	EncryptionKey []byte
}

// Store is the durable message store. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	opt     Options
	now     func() time.Time
	log     *slog.Logger
	retries atomic.Int64
	// keys holds the per-message keys; indexKey keys the recipient hash.
	keys     *keyring
	indexKey []byte
	// feed numbers the event feed (feed.go).
	feed *feed
	// due is where scans of the due index start (due.go).
	due dueFloor
	// pacingSeq keeps pacing keys of one millisecond apart (pacing.go).
	pacingSeq atomic.Uint32
}

// maxConflictRetries bounds how often a transaction is retried after Badger
// reports a conflict with a concurrent one.
const maxConflictRetries = 20

// BadgerOptions returns the option profile smsgw uses for a small box. The
// reasons for each value, with measurements, are in docs/store.md.
func BadgerOptions(dir string, inMemory bool, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir)
	if inMemory {
		o = badger.DefaultOptions("").WithInMemory(true)
	}
	return o.
		WithSyncWrites(true).
		WithDetectConflicts(true).
		WithNumVersionsToKeep(1).
		WithMemTableSize(4 << 20).
		WithValueThreshold(64 << 10).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithNumCompactors(2).
		WithCompression(options.Snappy).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(0).
		WithValueLogFileSize(16 << 20).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{log})
}

// Open opens or creates the store.
func Open(opt Options) (*Store, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Retention <= 0 {
		opt.Retention = 30 * 24 * time.Hour
	}
	if opt.IdempotencyTTL <= 0 {
		opt.IdempotencyTTL = 24 * time.Hour
	}
	if opt.Dir == "" && !opt.InMemory {
		return nil, errors.New("store: no directory configured")
	}
	bo := BadgerOptions(opt.Dir, opt.InMemory, opt.Log)
	if len(opt.EncryptionKey) > 0 {
		// Badger needs an index cache with encryption: the decrypted
		// table indexes live there.
		bo = bo.WithEncryptionKey(opt.EncryptionKey).WithIndexCacheSize(4 << 20)
	}
	fileDir := opt.Dir
	if opt.InMemory {
		fileDir = ""
	} else if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", opt.Dir, err)
	}
	indexKey, err := loadIndexKey(fileDir)
	if err != nil {
		return nil, err
	}
	keys, err := openKeyring(fileDir)
	if err != nil {
		return nil, err
	}
	if opt.tune != nil {
		bo = opt.tune(bo)
	}
	db, err := badger.Open(bo)
	if err != nil {
		keys.close()
		// Badger flattens the lock error into text.
		if errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("store: %s is in use by another process, most likely another smsgw: stop it, or give this one its own store.dir: %w", opt.Dir, ErrLocked)
		}
		return nil, fmt.Errorf("store: open %s: %w", opt.Dir, err)
	}
	fd, err := openFeed(db)
	if err != nil {
		db.Close()
		keys.close()
		return nil, err
	}
	s := &Store{db: db, opt: opt, now: opt.Now, log: opt.Log, keys: keys, indexKey: indexKey, feed: fd}
	if err := s.resumeErasures(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	ferr := s.feed.close()
	err := s.db.Close()
	if err == nil {
		err = ferr
	}
	if kerr := s.keys.close(); err == nil {
		err = kerr
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// update runs fn in a read-write transaction, retrying on conflicts.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for range maxConflictRetries {
		if err := ctx.Err(); err != nil {
			return err
		}
		var txn *badger.Txn
		err := s.db.Update(func(t *badger.Txn) error {
			txn = t
			return fn(t)
		})
		s.feed.settle(txn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("store: gave up after %d conflicting transactions: %w", maxConflictRetries, badger.ErrConflict)
}

// Create stores a new queued message, its first event and, when idem is not
// nil, its idempotency record, in one transaction. It returns a
// *DuplicateKeyError when the client already used the key.
func (s *Store) Create(ctx context.Context, m *Message, idem *Idempotency) error {
	return s.Admit(ctx, m, idem, Admission{})
}

// Admit is Create with the checks that must hold in the same transaction:
// the opt-out list, consent and the rate limits of adm. Because the counters
// are read and written in the transaction that creates the message, two
// concurrent requests can never both take the last slot of a limit: one of
// them conflicts, is retried, and then sees the limit reached. It returns
// ErrOptedOut, ErrConsentMissing, a *RateLimitError, or a
// *DuplicateKeyError.
func (s *Store) Admit(ctx context.Context, m *Message, idem *Idempotency, adm Admission) error {
	id, err := parseID(m.ID)
	if err != nil {
		return err
	}
	if m.State == "" {
		m.State = Queued
	}
	if m.State != Queued {
		return fmt.Errorf("store: create: a new message must be queued, not %s", m.State)
	}
	if m.To == "" {
		return errors.New("store: create: a message needs a recipient")
	}
	slot, _, err := s.keys.alloc()
	if err != nil {
		return err
	}
	m.KeySlot = slot
	m.ToHash = s.recipientHash(m.To)
	m.ToMasked = logging.MaskPhone(m.To)
	err = s.update(ctx, func(txn *badger.Txn) error {
		now := s.now()
		// The key is looked up before the admission checks: a retry of an
		// accepted request is answered with the first response even when
		// the recipient's window is now full or they opted out since.
		if idem != nil {
			ik := idemKey(idem.Client, idem.Key)
			item, err := txn.Get(ik)
			switch {
			case err == nil:
				existing, err := s.decodeIdem(item)
				if err != nil {
					return err
				}
				same := hmac.Equal([]byte(existing.Fingerprint), []byte(s.fingerprint(idem.Fingerprint)))
				return &DuplicateKeyError{Existing: *existing, SamePayload: same}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			stored := *idem
			stored.Fingerprint = s.fingerprint(idem.Fingerprint)
			rec, err := json.Marshal(&stored)
			if err != nil {
				return err
			}
			if err := txn.SetEntry(badger.NewEntry(ik, rec).WithTTL(s.opt.IdempotencyTTL)); err != nil {
				return err
			}
		}
		if err := s.admit(txn, m, adm, now); err != nil {
			return err
		}
		if _, err := txn.Get(messageKey(id)); err == nil {
			return fmt.Errorf("store: message %s already exists", m.ID)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		m.EventSeq = 0
		ev := Event{At: now, To: Queued, Reason: "accepted"}
		return s.write(txn, id, nil, m, ev, nil)
	})
	if err != nil {
		if eerr := s.keys.erase(slot); eerr != nil {
			s.log.Error("erasing the key of a refused message", slog.Any("err", eerr))
		}
		m.KeySlot = 0
		return err
	}
	s.keys.committed(slot)
	return nil
}

// Get returns one message.
func (s *Store) Get(ctx context.Context, id string) (*Message, error) {
	key, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var m *Message
	err = s.db.View(func(txn *badger.Txn) error {
		m, err = s.getMessage(txn, key)
		return err
	})
	return m, err
}

// Events returns the history of one message, oldest first.
func (s *Store) Events(ctx context.Context, id string) ([]Event, error) {
	key, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var evs []Event
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventPrefix(key), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var ev Event
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
				return fmt.Errorf("store: event of %s: %w", id, err)
			}
			evs = append(evs, ev)
		}
		return nil
	})
	return evs, err
}

// Idempotency returns the record for a client's key, or ErrNotFound.
func (s *Store) Idempotency(ctx context.Context, client, key string) (*Idempotency, error) {
	var rec Idempotency
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(idemKey(client, key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err := s.decodeIdem(item)
		if err == nil {
			rec = *r
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// decodeIdem reads an idempotency record.
func (s *Store) decodeIdem(item *badger.Item) (*Idempotency, error) {
	var rec Idempotency
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
		return nil, fmt.Errorf("store: read idempotency record: %w", err)
	}
	return &rec, nil
}

// fingerprint keys a request fingerprint with the recipient-index key.
func (s *Store) fingerprint(fp string) string {
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte("idempotency\x00"))
	m.Write([]byte(fp))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) getMessage(txn *badger.Txn, id [16]byte) (*Message, error) {
	item, err := txn.Get(messageKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("message %s: %w", idString(id[:]), ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m Message
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
		return nil, fmt.Errorf("store: decode message %s: %w", idString(id[:]), err)
	}
	if err := s.unseal(&m); err != nil {
		return nil, fmt.Errorf("store: message %s: %w", idString(id[:]), err)
	}
	return &m, nil
}

// retained reports whether records in state st are kept only for the
// retention period. Queued and sending messages are live work and never
// expire; every other state can stay where it is indefinitely.
func retained(st State) bool { return st != Queued && st != Sending }

// write stores m (whose previous version is old, nil for a new message),
// moves its index keys and appends ev. It is the only place that writes
// message keys, so the indexes cannot drift from the records.
//
// A message becoming terminal loses its sealed part and its key slot is
// queued for erasure in *erase (after the commit) with a marker key, so
// that a crash between commit and erasure is finished at the next Open.
func (s *Store) write(txn *badger.Txn, id [16]byte, old, m *Message, ev Event, erase *[]uint32) error {
	var ttl time.Duration
	if retained(m.State) {
		ttl = s.opt.Retention
	}
	set := func(k, v []byte) error {
		e := badger.NewEntry(k, v)
		if ttl > 0 {
			e = e.WithTTL(ttl)
		}
		return txn.SetEntry(e)
	}
	if old != nil {
		if old.State == Queued {
			if err := txn.Delete(dueKey(old.DueAt, id)); err != nil {
				return err
			}
		}
		if old.State != m.State {
			if err := txn.Delete(stateKey(old.State, id)); err != nil {
				return err
			}
		}
		if old.Dead && !m.Dead {
			if err := txn.Delete(deadKey(id)); err != nil {
				return err
			}
		}
		// Whenever the record's expiry is set or cleared, its events get
		// the same, so a message and its history expire together.
		if ttl > 0 || retained(old.State) {
			if err := s.retagEvents(txn, id, ttl); err != nil {
				return err
			}
		}
	}
	m.EventSeq++
	ev.Seq = m.EventSeq
	if m.State.Terminal() && m.KeySlot != 0 && !keepForReview(m) {
		if err := txn.Set(eraseKey(m.KeySlot), nil); err != nil {
			return err
		}
		// From here the sweep must not free the slot, even if this
		// transaction commits before finishErase runs.
		s.keys.markErasing(m.KeySlot)
		if erase != nil {
			*erase = append(*erase, m.KeySlot)
		}
		eraseSealed(m)
	}
	stored, err := s.sealed(m)
	if err != nil {
		return err
	}
	rec, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	evb, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := set(messageKey(id), rec); err != nil {
		return err
	}
	if err := set(stateKey(m.State, id), nil); err != nil {
		return err
	}
	if m.State == Queued {
		s.due.lower(m.DueAt)
		if err := txn.Set(dueKey(m.DueAt, id), nil); err != nil {
			return err
		}
	}
	if m.Dead {
		if err := set(deadKey(id), nil); err != nil {
			return err
		}
	}
	if err := set(eventKey(id, ev.Seq), evb); err != nil {
		return err
	}
	return s.appendFeed(txn, FeedEntry{
		At: ev.At, Kind: FeedMessage, Client: m.Client, MessageID: m.ID, Purpose: m.Purpose,
		From: ev.From, To: ev.To, Reason: ev.Reason, Detail: ev.Detail, Driver: ev.Driver,
	})
}

func (s *Store) retagEvents(txn *badger.Txn, id [16]byte, ttl time.Duration) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: eventPrefix(id), PrefetchValues: true, PrefetchSize: 16})
	type kv struct{ k, v []byte }
	var evs []kv
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			it.Close()
			return err
		}
		evs = append(evs, kv{item.KeyCopy(nil), v})
	}
	it.Close()
	for _, e := range evs {
		entry := badger.NewEntry(e.k, e.v)
		if ttl > 0 {
			entry = entry.WithTTL(ttl)
		}
		if err := txn.SetEntry(entry); err != nil {
			return err
		}
	}
	return nil
}

type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error("badger: " + trimNL(fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn("badger: " + trimNL(fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Infof(f string, a ...any) {
	l.log.Debug("badger: " + trimNL(fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Debugf(string, ...any) {}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
