package store

import (
	"context"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Change describes one state transition.
type Change struct {
	// From lists the states the message may be in; anything else is refused
	// with a *StateError.
	From []State
	To   State
	// Reason is a short stable code for the event; Detail is for people.
	Reason string
	Detail string
	Driver string
	// Mutate, when set, updates other fields (attempts, due time, driver
	// reference, last error) before the record is written.
	Mutate func(m *Message)
}

// Transition moves one message from one of c.From to c.To in a single
// transaction and returns the updated message.
//
// Keys touched: m<id> rewritten; s<old><id> deleted and s<new><id> set;
// q<due><id> deleted when leaving queued and set when entering it; d<id>
// set or deleted with the Dead flag; e<id><seq> appended.
func (s *Store) Transition(ctx context.Context, id string, c Change) (*Message, error) {
	key, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var (
		out   *Message
		erase []uint32
	)
	err = s.update(ctx, func(txn *badger.Txn) error {
		erase = erase[:0]
		m, err := s.getMessage(txn, key)
		if err != nil {
			return err
		}
		out, err = s.apply(txn, key, m, c, &erase)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.finishErase(erase)
	return out, nil
}

// Decide picks the change for one message of a batch; nil skips it.
type Decide func(m *Message) *Change

// TransitionMany applies a change to several messages in one transaction.
// decide sees each message's current record and returns its change, or nil
// to leave it alone. It returns the messages that changed.
func (s *Store) TransitionMany(ctx context.Context, ids []string, decide Decide) ([]*Message, error) {
	keys := make([][16]byte, 0, len(ids))
	for _, id := range ids {
		k, err := parseID(id)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	var (
		out   []*Message
		erase []uint32
	)
	err := s.update(ctx, func(txn *badger.Txn) error {
		out, erase = out[:0], erase[:0]
		for _, k := range keys {
			m, err := s.getMessage(txn, k)
			if err != nil {
				continue // removed by retention meanwhile
			}
			c := decide(m)
			if c == nil {
				continue
			}
			changed, err := s.apply(txn, k, m, *c, &erase)
			if err != nil {
				if _, ok := err.(*StateError); ok {
					continue
				}
				return err
			}
			out = append(out, changed)
		}
		return nil
	})
	if err == nil {
		s.finishErase(erase)
	}
	return out, err
}

func (s *Store) apply(txn *badger.Txn, key [16]byte, m *Message, c Change, erase *[]uint32) (*Message, error) {
	if !slices.Contains(c.From, m.State) {
		return nil, &StateError{ID: m.ID, Have: m.State, Want: c.From}
	}
	old := *m
	next := *m
	next.Params = cloneParams(m.Params)
	now := s.now()
	if c.Mutate != nil {
		c.Mutate(&next)
	}
	next.State = c.To
	next.UpdatedAt = now
	if c.Driver != "" {
		next.Driver = c.Driver
	}
	if next.State != Sending {
		next.LeaseUntil = time.Time{}
	}
	if old.State == Sending && next.State == Queued {
		s.retries.Add(1)
	}
	ev := Event{At: now, From: old.State, To: c.To, Driver: c.Driver, Reason: c.Reason, Detail: c.Detail}
	if err := s.write(txn, key, &old, &next, ev, erase); err != nil {
		return nil, err
	}
	return &next, nil
}

func cloneParams(p map[string]string) map[string]string {
	if p == nil {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}
