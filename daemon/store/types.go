package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is where a message is in its life.
type State string

// Message states. See the state diagram in docs/design.md.
const (
	Queued    State = "queued"
	Sending   State = "sending"
	Sent      State = "sent"
	Delivered State = "delivered"
	Failed    State = "failed"
	Expired   State = "expired"
	Cancelled State = "cancelled"
	Unknown   State = "unknown"
)

// States lists every state in a stable order.
var States = []State{Queued, Sending, Sent, Delivered, Failed, Expired, Cancelled, Unknown}

// Terminal reports whether no automatic transition leaves s. Terminal
// messages lose their secret parameters and expire after the retention.
func (s State) Terminal() bool {
	switch s {
	case Delivered, Failed, Expired, Cancelled:
		return true
	}
	return false
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return stateCode(s) != 0 }

// Message is the stored record of one message.
//
// To, Text and the secret params are never written to Badger in the clear:
// they travel sealed under the message's own key (see keyring.go), which is
// destroyed when the message becomes terminal. Read back after that, To and
// Text are empty and only ToMasked remains.
type Message struct {
	ID     string `json:"id"`
	Client string `json:"client"`
	// To is the recipient in E.164 form; sealed in storage.
	To string `json:"-"`
	// ToMasked is the recipient as lists and logs show it.
	ToMasked string `json:"to_masked"`
	// ToHash is the keyed hash the store finds the recipient by.
	ToHash   []byte            `json:"to_hash,omitempty"`
	Purpose  string            `json:"purpose"`
	Template string            `json:"template,omitempty"`
	Params   map[string]string `json:"-"`
	// Text is free text sent instead of a template; sealed in storage.
	Text string `json:"-"`
	// SecretParams names the params erased when the message is terminal.
	SecretParams []string `json:"secret_params,omitempty"`
	// Erased is set once the sealed part (recipient, free text, secret
	// params) was destroyed.
	Erased bool `json:"erased,omitempty"`
	// OptOutExempt marks the one confirmation sent to a number that just
	// opted out: the check before send lets it through.
	OptOutExempt bool `json:"opt_out_exempt,omitempty"`
	// PlainParams are the params that are not secret, stored as they are.
	PlainParams map[string]string `json:"params,omitempty"`
	// KeySlot is the slot of the message key in the key file; 0 once erased.
	KeySlot uint32 `json:"key_slot,omitempty"`
	// Sealed is the AES-GCM sealed recipient, free text and secret params.
	Sealed []byte `json:"sealed,omitempty"`

	State       State    `json:"state"`
	Attempts    int      `json:"attempts"`
	MaxAttempts int      `json:"max_attempts"`
	Parts       int      `json:"parts"`
	Encoding    string   `json:"encoding"`
	Driver      string   `json:"driver,omitempty"`
	DriverRef   string   `json:"driver_ref,omitempty"`
	LastError   *Failure `json:"last_error,omitempty"`
	// Dead is set when the message is in the dead-letter queue.
	Dead bool `json:"dead,omitempty"`
	// PinnedDriver, when set, is the only device that may send the
	// message: part of it already left through that device.
	PinnedDriver string `json:"pinned_driver,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// DueAt is when a queued message may next be leased.
	DueAt time.Time `json:"due_at"`
	// LeaseUntil is when a sending message's lease ends.
	LeaseUntil time.Time `json:"lease_until,omitempty"`

	// EventSeq is the number of events appended so far.
	EventSeq int `json:"event_seq"`
}

// Failure is a classified driver error kept with the message.
type Failure struct {
	Class  string `json:"class"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Event is one transition in a message's history.
type Event struct {
	Seq    int       `json:"seq"`
	At     time.Time `json:"at"`
	From   State     `json:"from,omitempty"`
	To     State     `json:"to"`
	Driver string    `json:"driver,omitempty"`
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"`
}

// Idempotency is the Idempotency-Key of a submission, stored in the same
// transaction as the message it created.
type Idempotency struct {
	Client string `json:"client"`
	Key    string `json:"key"`
	// Fingerprint identifies the request payload. The store keeps only an
	// HMAC of it under the recipient-index key: a payload holds one-time
	// codes, whose plain hash would be easy to reverse.
	Fingerprint string `json:"fingerprint"`
	// Response is the body first answered, replayed verbatim. The API
	// writes it without personal data, since it outlives the message's.
	Response  []byte    `json:"response"`
	MessageID string    `json:"message_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Errors a caller can test with errors.Is.
var (
	// ErrNotFound is returned for an unknown message id.
	ErrNotFound = errors.New("not found")
	// ErrExpired refuses to requeue a message whose validity has passed.
	ErrExpired = errors.New("message validity has passed")
	// ErrLocked says another process holds the store's directory.
	ErrLocked = errors.New("store directory locked")
	// ErrErased refuses to requeue a message whose secret params were erased.
	ErrErased = errors.New("message content was erased")
)

// StateError says a transition was refused because the message was not in
// one of the expected states.
type StateError struct {
	ID   string
	Have State
	Want []State
}

func (e *StateError) Error() string {
	want := make([]string, len(e.Want))
	for i, s := range e.Want {
		want[i] = string(s)
	}
	return fmt.Sprintf("message %s is %s, not %s", e.ID, e.Have, strings.Join(want, " or "))
}

// DuplicateKeyError says an Idempotency-Key was already used by this client.
// Existing is the stored record, so the caller can replay or refuse.
type DuplicateKeyError struct {
	Existing Idempotency
	// SamePayload is true when the request carried the same payload as
	// the first one, so its answer may be replayed.
	SamePayload bool
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("idempotency key already used for message %s", e.Existing.MessageID)
}

// Filter selects messages for List.
type Filter struct {
	States  []State
	Purpose string
	To      string
	Client  string
	// Since and Until bound the creation time; zero means open.
	Since, Until time.Time
	// DeadOnly lists the dead-letter queue.
	DeadOnly bool
	// Cursor continues an earlier listing; Limit caps the page (default 100).
	Cursor string
	Limit  int

	toHash []byte
}

// Stats summarises the store.
type Stats struct {
	ByState      map[State]int
	QueueDepth   int
	OldestQueued time.Time
	Retries      int
	DeadLetters  int
	LSMBytes     int64
	VlogBytes    int64
}
