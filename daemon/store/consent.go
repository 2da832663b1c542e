package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"smsgw/daemon/logging"
)

// Errors of Admit a caller can test with errors.Is.
var (
	// ErrOptedOut refuses a message to a number on the opt-out list.
	ErrOptedOut = errors.New("recipient opted out")
	// ErrConsentMissing refuses a message whose purpose needs consent the
	// recipient has not given.
	ErrConsentMissing = errors.New("no consent recorded for this purpose")
)

// LimitScope says what a rate limit counts.
type LimitScope string

// Rate-limit scopes.
const (
	ScopeRecipient        LimitScope = "recipient"
	ScopeRecipientPurpose LimitScope = "recipient_purpose"
	ScopeClient           LimitScope = "client"
	ScopeClientPurpose    LimitScope = "client_purpose"
	ScopeGlobal           LimitScope = "global"
)

var scopeCodes = map[LimitScope]byte{
	ScopeRecipient: 1, ScopeRecipientPurpose: 2, ScopeClient: 3, ScopeClientPurpose: 4, ScopeGlobal: 5,
}

// Limit is a sliding-window cap: at most Count accepted messages in any
// Window.
type Limit struct {
	Scope  LimitScope
	Count  int
	Window time.Duration
}

// Admission lists what Admit checks in the transaction that creates a
// message.
type Admission struct {
	// CheckOptOut refuses numbers on the opt-out list.
	CheckOptOut bool
	// RequireConsent refuses numbers without consent for the purpose.
	RequireConsent bool
	Limits         []Limit
}

// RateLimitError says which limit a message would exceed and when a
// slot frees up.
type RateLimitError struct {
	Limit      Limit
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limit %s reached (%d per %s); retry in %s", e.Limit.Scope, e.Limit.Count, e.Limit.Window, e.RetryAfter)
}

// admit checks adm for m inside txn and, when every check passes, counts
// m in each limit's window.
func (s *Store) admit(txn *badger.Txn, m *Message, adm Admission, now time.Time) error {
	if adm.CheckOptOut {
		if _, err := txn.Get(optOutKey(m.ToHash)); err == nil {
			return ErrOptedOut
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
	}
	if adm.RequireConsent {
		if _, err := txn.Get(consentKey(m.ToHash, m.Purpose)); errors.Is(err, badger.ErrKeyNotFound) {
			return ErrConsentMissing
		} else if err != nil {
			return err
		}
	}
	type update struct {
		key   []byte
		times []int64
		ttl   time.Duration
	}
	updates := make([]update, 0, len(adm.Limits))
	nowMS := now.UnixMilli()
	for _, l := range adm.Limits {
		if l.Count <= 0 || l.Window <= 0 {
			continue
		}
		key := rateKey(l.Scope, m)
		times, err := readWindow(txn, key)
		if err != nil {
			return err
		}
		from := nowMS - l.Window.Milliseconds()
		times = slices.DeleteFunc(times, func(t int64) bool { return t <= from })
		if len(times) >= l.Count {
			oldest := times[len(times)-l.Count]
			retry := time.Duration(oldest+l.Window.Milliseconds()-nowMS) * time.Millisecond
			return &RateLimitError{Limit: l, RetryAfter: max(retry, time.Second)}
		}
		updates = append(updates, update{key, append(times, nowMS), l.Window})
	}
	for _, u := range updates {
		v := make([]byte, 0, 8*len(u.times))
		for _, t := range u.times {
			v = binary.BigEndian.AppendUint64(v, uint64(t))
		}
		if err := txn.SetEntry(badger.NewEntry(u.key, v).WithTTL(u.ttl)); err != nil {
			return err
		}
	}
	return nil
}

// readWindow reads a window's times; reading registers the key for
// conflict detection, which is what makes the limit exact.
func readWindow(txn *badger.Txn, key []byte) ([]int64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var times []int64
	err = item.Value(func(v []byte) error {
		for i := 0; i+8 <= len(v); i += 8 {
			times = append(times, int64(binary.BigEndian.Uint64(v[i:])))
		}
		return nil
	})
	return times, err
}

func rateKey(scope LimitScope, m *Message) []byte {
	k := []byte{pRate, scopeCodes[scope]}
	switch scope {
	case ScopeRecipient:
		k = append(k, m.ToHash...)
	case ScopeRecipientPurpose:
		k = append(append(k, m.ToHash...), m.Purpose...)
	case ScopeClient:
		k = append(k, m.Client...)
	case ScopeClientPurpose:
		k = append(append(append(k, m.Client...), 0), m.Purpose...)
	}
	return k
}

func optOutKey(hash []byte) []byte { return append([]byte{pOptOut}, hash...) }

func consentKey(hash []byte, purpose string) []byte {
	return append(append([]byte{pConsent}, hash...), purpose...)
}

// OptOut is one number on the opt-out list. The number itself is not
// stored: Recipient is masked.
type OptOut struct {
	Recipient string    `json:"recipient"`
	Source    string    `json:"source"`
	At        time.Time `json:"at"`
}

// Consent is one recipient's consent to one purpose.
type Consent struct {
	Recipient string    `json:"recipient"`
	Purpose   string    `json:"purpose"`
	Source    string    `json:"source"`
	At        time.Time `json:"at"`
}

// JournalEntry records a change to the opt-out list or to consents, and
// who or what made it.
type JournalEntry struct {
	At time.Time `json:"at"`
	// Kind is opted_out, opted_in, consent_added or consent_removed.
	Kind      string `json:"kind"`
	Recipient string `json:"recipient"`
	Purpose   string `json:"purpose,omitempty"`
	// Source is who made the change: "api:<client>", "cli", or
	// "inbound:<driver>".
	Source string `json:"source"`
	// Keyword is the inbound keyword that made the change, if any.
	Keyword string `json:"keyword,omitempty"`
}

// Journal kinds.
const (
	JournalOptedOut       = "opted_out"
	JournalOptedIn        = "opted_in"
	JournalConsentAdded   = "consent_added"
	JournalConsentRemoved = "consent_removed"
)

// IsOptedOut reports whether e164 is on the opt-out list.
func (s *Store) IsOptedOut(ctx context.Context, e164 string) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(optOutKey(s.recipientHash(e164)))
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, err
}

// SetOptOut puts e164 on the opt-out list (out true) or takes it off, and
// journals the change. changed is false when the list already said so.
func (s *Store) SetOptOut(ctx context.Context, e164 string, out bool, source, keyword string) (changed bool, err error) {
	h := s.recipientHash(e164)
	now := s.now()
	err = s.update(ctx, func(txn *badger.Txn) error {
		_, gerr := txn.Get(optOutKey(h))
		present := gerr == nil
		if gerr != nil && !errors.Is(gerr, badger.ErrKeyNotFound) {
			return gerr
		}
		changed = present != out
		if !changed {
			return nil
		}
		kind := JournalOptedIn
		if out {
			kind = JournalOptedOut
			v, err := json.Marshal(OptOut{Recipient: logging.MaskPhone(e164), Source: source, At: now})
			if err != nil {
				return err
			}
			if err := txn.Set(optOutKey(h), v); err != nil {
				return err
			}
		} else if err := txn.Delete(optOutKey(h)); err != nil {
			return err
		}
		return s.journal(txn, JournalEntry{At: now, Kind: kind, Recipient: logging.MaskPhone(e164), Source: source, Keyword: keyword})
	})
	return changed, err
}

// OptOuts lists the opt-out list, oldest hash first.
func (s *Store) OptOuts(ctx context.Context) ([]OptOut, error) {
	var out []OptOut
	err := s.scan(ctx, []byte{pOptOut}, func(_, v []byte) error {
		var o OptOut
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// HasConsent reports whether e164 consented to purpose.
func (s *Store) HasConsent(ctx context.Context, e164, purpose string) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(consentKey(s.recipientHash(e164), purpose))
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, err
}

// SetConsent records (give true) or withdraws e164's consent to purpose,
// and journals the change. changed is false when nothing changed.
func (s *Store) SetConsent(ctx context.Context, e164, purpose string, give bool, source string) (changed bool, err error) {
	k := consentKey(s.recipientHash(e164), purpose)
	now := s.now()
	err = s.update(ctx, func(txn *badger.Txn) error {
		_, gerr := txn.Get(k)
		present := gerr == nil
		if gerr != nil && !errors.Is(gerr, badger.ErrKeyNotFound) {
			return gerr
		}
		changed = present != give
		if !changed {
			return nil
		}
		kind := JournalConsentRemoved
		if give {
			kind = JournalConsentAdded
			v, err := json.Marshal(Consent{Recipient: logging.MaskPhone(e164), Purpose: purpose, Source: source, At: now})
			if err != nil {
				return err
			}
			if err := txn.Set(k, v); err != nil {
				return err
			}
		} else if err := txn.Delete(k); err != nil {
			return err
		}
		return s.journal(txn, JournalEntry{At: now, Kind: kind, Recipient: logging.MaskPhone(e164), Purpose: purpose, Source: source})
	})
	return changed, err
}

// Consents lists consent records; a non-empty e164 lists only that
// recipient's.
func (s *Store) Consents(ctx context.Context, e164 string) ([]Consent, error) {
	prefix := []byte{pConsent}
	if e164 != "" {
		prefix = append(prefix, s.recipientHash(e164)...)
	}
	var out []Consent
	err := s.scan(ctx, prefix, func(_, v []byte) error {
		var c Consent
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// journal appends an entry, kept for the retention period.
func (s *Store) journal(txn *badger.Txn, e JournalEntry) error {
	k := binary.BigEndian.AppendUint64([]byte{pJournal}, uint64(max(e.At.UnixNano(), 0)))
	var r [4]byte
	_, _ = rand.Read(r[:])
	k = append(k, r[:]...)
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(k, v).WithTTL(s.opt.Retention))
}

// Journal returns journal entries at or after since, newest first, at most
// limit.
func (s *Store) Journal(ctx context.Context, since time.Time, limit int) ([]JournalEntry, error) {
	if limit <= 0 {
		limit = DefaultPage
	}
	var out []JournalEntry
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pJournal}, Reverse: true})
		defer it.Close()
		upper := binary.BigEndian.AppendUint64([]byte{pJournal}, math.MaxUint64)
		lower := binary.BigEndian.AppendUint64([]byte{pJournal}, uint64(max(since.UnixNano(), 0)))
		for it.Seek(upper); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if bytes.Compare(it.Item().Key(), lower) < 0 {
				break
			}
			var e JournalEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func (s *Store) scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := it.Item().Value(func(v []byte) error { return fn(it.Item().Key(), v) }); err != nil {
				return err
			}
		}
		return nil
	})
}
