package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// sealedPart is what a message keeps only under its own key.
type sealedPart struct {
	To      string            `json:"to"`
	Text    string            `json:"text,omitempty"`
	Secrets map[string]string `json:"secrets,omitempty"`
}

// sealed returns the copy of m that is written to Badger: the plain params
// in the clear, the rest sealed under the message key.
func (s *Store) sealed(m *Message) (*Message, error) {
	out := *m
	out.PlainParams = nil
	out.Sealed = nil
	part := sealedPart{To: m.To, Text: m.Text}
	for k, v := range m.Params {
		if slices.Contains(m.SecretParams, k) {
			if part.Secrets == nil {
				part.Secrets = map[string]string{}
			}
			part.Secrets[k] = v
			continue
		}
		if out.PlainParams == nil {
			out.PlainParams = map[string]string{}
		}
		out.PlainParams[k] = v
	}
	if m.KeySlot == 0 {
		return &out, nil
	}
	key, err := s.keys.get(m.KeySlot)
	if err != nil {
		return nil, fmt.Errorf("store: key of message %s: %w", m.ID, err)
	}
	plain, err := json.Marshal(part)
	if err != nil {
		return nil, err
	}
	if out.Sealed, err = seal(key, plain, []byte(m.ID)); err != nil {
		return nil, err
	}
	return &out, nil
}

// unseal fills To, Text and the secret params of a message read from
// Badger, when its key still exists.
func (s *Store) unseal(m *Message) error {
	m.Params = maps.Clone(m.PlainParams)
	m.PlainParams = nil
	sealed := m.Sealed
	m.Sealed = nil
	if m.KeySlot == 0 || len(sealed) == 0 {
		return nil
	}
	key, err := s.keys.get(m.KeySlot)
	if errors.Is(err, ErrKeyErased) {
		m.KeySlot, m.Erased = 0, true
		return nil
	}
	if err != nil {
		return err
	}
	plain, err := open(key, sealed, []byte(m.ID))
	if err != nil {
		return err
	}
	var part sealedPart
	if err := json.Unmarshal(plain, &part); err != nil {
		return fmt.Errorf("decode sealed part: %w", err)
	}
	m.To, m.Text = part.To, part.Text
	for k, v := range part.Secrets {
		if m.Params == nil {
			m.Params = map[string]string{}
		}
		m.Params[k] = v
	}
	return nil
}

// keepForReview reports whether a terminal message keeps its key: a
// dead-lettered message without anything secret can still be requeued by
// an operator, so it keeps its recipient until then or until it expires.
func keepForReview(m *Message) bool {
	return m.Dead && m.Text == "" && len(m.SecretParams) == 0
}

// eraseSealed drops what the message's key protects.
func eraseSealed(m *Message) {
	m.To, m.Text = "", ""
	for _, name := range m.SecretParams {
		delete(m.Params, name)
	}
	m.KeySlot = 0
	m.Erased = true
}

func eraseKey(slot uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{pErase}, slot)
}

// finishErase destroys the keys of messages that just became terminal,
// drops their markers, and only then frees the slots: a slot is never
// handed to a new message while a marker could still wipe it.
func (s *Store) finishErase(slots []uint32) {
	if len(slots) == 0 {
		return
	}
	s.keys.markErasing(slots...)
	if err := s.keys.wipe(slots...); err != nil {
		s.log.Error("erasing message keys; retried at the next start", slog.Any("err", err))
		return
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, slot := range slots {
			if err := txn.Delete(eraseKey(slot)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("dropping erasure markers; the slots stay reserved until the next start", slog.Any("err", err))
		return
	}
	s.keys.release(slots...)
}

// resumeErasures finishes the erasures a crash interrupted.
func (s *Store) resumeErasures() error {
	var slots []uint32
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pErase}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); len(k) == 5 {
				slots = append(slots, binary.BigEndian.Uint32(k[1:]))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read erasure markers: %w", err)
	}
	s.finishErase(slots)
	return nil
}

// SweepKeys erases the keys no stored message refers to any more, such as
// those of held or dead-lettered messages whose retention ran out. It
// returns how many it erased.
func (s *Store) SweepKeys() (int, error) {
	used := s.keys.used()
	if len(used) == 0 {
		return 0, nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pMessage}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var ref struct {
				KeySlot uint32 `json:"key_slot"`
			}
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ref) }); err != nil {
				return err
			}
			delete(used, ref.KeySlot)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: sweep keys: %w", err)
	}
	// Idempotency records share their message's slot; a slot whose
	// message is gone is not worth keeping for a replay.
	return s.keys.eraseUnchanged(used)
}
