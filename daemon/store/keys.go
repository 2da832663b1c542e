package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
)

// Key layout. Every integer is fixed-width big-endian so that byte order is
// numeric order, and ids are 16-byte ULIDs so that byte order is time order.
//
//	m<id:16>                 message record (JSON)
//	q<due_ms:8><id:16>       queued messages by due time
//	s<state:1><id:16>        messages by state
//	d<id:16>                 dead-letter queue
//	e<id:16><seq:4>          events of a message
//	i<client>\x00<key>       idempotency record (JSON), 24 h TTL
//	x<slot:4>                message key waiting to be erased
//	o<rhash:16>              opt-out record (JSON)
//	c<rhash:16><purpose>     consent record (JSON)
//	j<ns:8><rand:4>          journal entry (JSON), TTL retention
//	r<scope:1><rest>         rate-limit window: sorted 8-byte ms times
//	p<device>\x00<ms:8><n:4>  SMS parts a device sent, TTL the pacing window (pacing.go)
//
// rhash is the keyed hash of a recipient (recipientHash); no key holds a
// phone number.
const (
	pMessage = 'm'
	pDue     = 'q'
	pState   = 's'
	pDead    = 'd'
	pEvent   = 'e'
	pIdem    = 'i'
	pErase   = 'x'
	pOptOut  = 'o'
	pConsent = 'c'
	pJournal = 'j'
	pRate    = 'r'
)

func stateCode(s State) byte {
	for i, v := range States {
		if v == s {
			return byte(i + 1)
		}
	}
	return 0
}

func parseID(id string) ([16]byte, error) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return [16]byte{}, fmt.Errorf("%w: %q is not a message id", ErrNotFound, id)
	}
	return u, nil
}

func idString(b []byte) string {
	var u ulid.ULID
	copy(u[:], b)
	return u.String()
}

func messageKey(id [16]byte) []byte {
	return append([]byte{pMessage}, id[:]...)
}

func dueKey(due time.Time, id [16]byte) []byte {
	k := make([]byte, 1, 25)
	k[0] = pDue
	k = binary.BigEndian.AppendUint64(k, uint64(max(due.UnixMilli(), 0)))
	return append(k, id[:]...)
}

func stateKey(s State, id [16]byte) []byte {
	return append([]byte{pState, stateCode(s)}, id[:]...)
}

func deadKey(id [16]byte) []byte {
	return append([]byte{pDead}, id[:]...)
}

func eventKey(id [16]byte, seq int) []byte {
	k := append([]byte{pEvent}, id[:]...)
	return binary.BigEndian.AppendUint32(k, uint32(seq))
}

func eventPrefix(id [16]byte) []byte {
	return append([]byte{pEvent}, id[:]...)
}

func idemKey(client, key string) []byte {
	k := make([]byte, 0, 2+len(client)+len(key))
	k = append(k, pIdem)
	k = append(k, client...)
	k = append(k, 0)
	return append(k, key...)
}
