package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// pPacing keys record the SMS parts each device sent, so that a device's
// pacing window survives a restart or a reload:
//
//	p<device>\x00<at_ms:8><seq:4>   parts (4 bytes), TTL: the window
//
// Without them a restart would forget the last half hour of sends and let
// a phone exceed Android's limit.
const pPacing = 'p'

// SentParts is one send in a device's pacing history.
type SentParts struct {
	At    time.Time
	Parts int
}

func pacingPrefix(device string) []byte {
	k := make([]byte, 0, len(device)+2)
	k = append(k, pPacing)
	k = append(k, device...)
	return append(k, 0)
}

// RecordSends stores sends of device, each kept for ttl.
func (s *Store) RecordSends(ctx context.Context, device string, sends []SentParts, ttl time.Duration) error {
	if len(sends) == 0 || ttl <= 0 {
		return nil
	}
	return s.update(ctx, func(txn *badger.Txn) error {
		for _, sp := range sends {
			k := pacingPrefix(device)
			k = binary.BigEndian.AppendUint64(k, uint64(max(sp.At.UnixMilli(), 0)))
			k = binary.BigEndian.AppendUint32(k, s.pacingSeq.Add(1))
			v := binary.BigEndian.AppendUint32(nil, uint32(max(sp.Parts, 0)))
			if err := txn.SetEntry(badger.NewEntry(k, v).WithTTL(ttl)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SendHistory returns device's recorded sends since since, oldest first.
func (s *Store) SendHistory(ctx context.Context, device string, since time.Time) ([]SentParts, error) {
	var out []SentParts
	prefix := pacingPrefix(device)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		start := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(since.UnixMilli(), 0)))
		for it.Seek(start); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+12 {
				continue
			}
			at := time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):])))
			var parts int
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != 4 {
					return fmt.Errorf("pacing record of %d bytes", len(v))
				}
				parts = int(binary.BigEndian.Uint32(v))
				return nil
			}); err != nil {
				return err
			}
			out = append(out, SentParts{At: at, Parts: parts})
		}
		return nil
	})
	return out, err
}
