package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Webhook delivery state, per client:
//
//	w<client>                      cursor: the last feed number handled (8 bytes)
//	h<client>\x00<seq:8>           delivery record of one feed entry (JSON)
//
// The worker delivers a client's entries in feed order. A record is
// written after every attempt, so attempts and the next attempt time
// survive a restart; delivered and dead records expire after retention.

const (
	pHookCursor   = 'w'
	pHookDelivery = 'h'
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Delivery is the record of one feed entry sent to one client's webhook.
type Delivery struct {
	Client    string    `json:"client"`
	Seq       uint64    `json:"seq"`
	Kind      string    `json:"kind"`
	MessageID string    `json:"message_id,omitempty"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// LastStatus is the HTTP status of the last attempt, 0 if none came.
	LastStatus int       `json:"last_status,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func hookCursorKey(client string) []byte {
	return append([]byte{pHookCursor}, client...)
}

func hookDeliveryPrefix(client string) []byte {
	k := append([]byte{pHookDelivery}, client...)
	return append(k, 0)
}

func hookDeliveryKey(client string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(hookDeliveryPrefix(client), seq)
}

// WebhookCursor returns the last feed number handled for client's webhook;
// 0 when it never ran, start is stored and returned instead, so that a new
// webhook begins with what happens from now on.
func (s *Store) WebhookCursor(ctx context.Context, client string, start uint64) (uint64, error) {
	var cur uint64
	err := s.update(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(hookCursorKey(client))
		if errors.Is(err, badger.ErrKeyNotFound) {
			cur = start
			return txn.Set(hookCursorKey(client), binary.BigEndian.AppendUint64(nil, start))
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("webhook cursor of %s: %d bytes", client, len(v))
			}
			cur = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: webhook cursor: %w", err)
	}
	return cur, nil
}

// FeedHead returns the feed's current horizon: a new webhook starts there.
func (s *Store) FeedHead() uint64 {
	h, _ := s.feed.horizon()
	return h
}

// SetWebhookCursor records that entries up to seq were handled for client.
func (s *Store) SetWebhookCursor(ctx context.Context, client string, seq uint64) error {
	return s.update(ctx, func(txn *badger.Txn) error {
		return txn.Set(hookCursorKey(client), binary.BigEndian.AppendUint64(nil, seq))
	})
}

// SaveDelivery writes d; once it is delivered or dead, the same
// transaction moves the client's cursor to d.Seq.
func (s *Store) SaveDelivery(ctx context.Context, d Delivery) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.update(ctx, func(txn *badger.Txn) error {
		e := badger.NewEntry(hookDeliveryKey(d.Client, d.Seq), b)
		if d.State != DeliveryPending {
			e = e.WithTTL(s.opt.Retention)
			if err := txn.Set(hookCursorKey(d.Client), binary.BigEndian.AppendUint64(nil, d.Seq)); err != nil {
				return err
			}
		}
		return txn.SetEntry(e)
	})
}

// Delivery returns the record of client's delivery of seq, or nil.
func (s *Store) Delivery(ctx context.Context, client string, seq uint64) (*Delivery, error) {
	var out *Delivery
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(hookDeliveryKey(client, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out = &Delivery{}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, out) })
	})
	if err != nil {
		return nil, fmt.Errorf("store: webhook delivery: %w", err)
	}
	return out, ctx.Err()
}

// Deliveries lists the delivery records of client (every client when
// empty), newest first, at most limit, keeping only state when set.
func (s *Store) Deliveries(ctx context.Context, client, state string, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	prefix := []byte{pHookDelivery}
	if client != "" {
		prefix = hookDeliveryPrefix(client)
	}
	var out []Delivery
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var d Delivery
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &d) }); err != nil {
				return err
			}
			if state == "" || d.State == state {
				out = append(out, d)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: webhook deliveries: %w", err)
	}
	// Newest first: by time of the last change, then feed number.
	slices.SortFunc(out, func(a, b Delivery) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
