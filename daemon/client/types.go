// Package client is the Go client for smsgw's HTTP API, over the Unix socket
// or a LAN listener, and the request and response types that travel on the
// wire. The CLI uses it; apps written in Go can too.
package client

import (
	"fmt"
	"time"
)

// SubmitRequest asks smsgw to send one message.
type SubmitRequest struct {
	// To is the recipient, in E.164 form (+33612345678).
	To string `json:"to"`
	// Purpose is one of the configured purposes, such as "otp".
	Purpose string `json:"purpose"`
	// Template names a template allowed for the purpose.
	Template string `json:"template,omitempty"`
	// Params fills the template's declared parameters.
	Params map[string]string `json:"params,omitempty"`
	// TTL, a Go duration such as "2m", shortens the purpose's validity.
	TTL string `json:"ttl,omitempty"`
	// Text is sent as is instead of a template, for purposes that allow
	// free text. It is erased once the message is finished.
	Text string `json:"text,omitempty"`
}

// RecipientRequest names a recipient for the opt-out list.
type RecipientRequest struct {
	// Recipient is the number, in E.164 or national form.
	Recipient string `json:"recipient"`
}

// ConsentRequest records or withdraws a recipient's consent to a purpose.
type ConsentRequest struct {
	Recipient string `json:"recipient"`
	Purpose   string `json:"purpose"`
	// Source says how the consent was given, e.g. "signup form 2025-03".
	Source string `json:"source,omitempty"`
}

// OptOut is one number on the opt-out list, masked.
type OptOut struct {
	Recipient string    `json:"recipient"`
	Source    string    `json:"source"`
	At        time.Time `json:"at"`
}

// OptOutList is the opt-out list.
type OptOutList struct {
	OptOuts []OptOut `json:"optouts"`
}

// Consent is one recipient's consent to one purpose; the number is masked.
type Consent struct {
	Recipient string    `json:"recipient"`
	Purpose   string    `json:"purpose"`
	Source    string    `json:"source"`
	At        time.Time `json:"at"`
}

// ConsentList is a list of consents.
type ConsentList struct {
	Consents []Consent `json:"consents"`
}

// JournalEntry is one change to the opt-out list or to consents.
type JournalEntry struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Recipient string    `json:"recipient"`
	Purpose   string    `json:"purpose,omitempty"`
	Source    string    `json:"source"`
	Keyword   string    `json:"keyword,omitempty"`
}

// Journal is the newest journal entries first.
type Journal struct {
	Entries []JournalEntry `json:"entries"`
}

// Change says whether a request changed anything.
type Change struct {
	Changed bool `json:"changed"`
}

// Message is a message as the API shows it. Secret parameters are never
// shown; in lists the recipient is masked.
type Message struct {
	ID            string            `json:"id"`
	Client        string            `json:"client"`
	To            string            `json:"to"`
	Purpose       string            `json:"purpose"`
	Template      string            `json:"template"`
	Params        map[string]string `json:"params,omitempty"`
	State         string            `json:"state"`
	Attempts      int               `json:"attempts"`
	MaxAttempts   int               `json:"max_attempts"`
	Parts         int               `json:"parts"`
	Encoding      string            `json:"encoding"`
	Driver        string            `json:"driver,omitempty"`
	DriverRef     string            `json:"driver_ref,omitempty"`
	LastError     *ErrorInfo        `json:"last_error,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	ExpiresAt     time.Time         `json:"expires_at"`
	NextAttemptAt *time.Time        `json:"next_attempt_at,omitempty"`
	Events        []Event           `json:"events,omitempty"`
}

// ErrorInfo is the last driver error of a message.
type ErrorInfo struct {
	Class  string `json:"class"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Event is one state transition of a message.
type Event struct {
	Seq    int       `json:"seq"`
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Driver string    `json:"driver,omitempty"`
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"`
}

// MessageList is one page of messages.
type MessageList struct {
	Messages []Message `json:"messages"`
	// NextCursor, when not empty, fetches the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Stats summarises the queue.
type Stats struct {
	QueueDepth          int            `json:"queue_depth"`
	OldestQueuedAgeSecs float64        `json:"oldest_queued_age_seconds"`
	ByState             map[string]int `json:"by_state"`
	Retries             int            `json:"retries"`
	DeadLetters         int            `json:"dead_letters"`
}

// Health is the daemon's and its devices' state.
type Health struct {
	// Status is "ok", "degraded" or "down".
	Status        string   `json:"status"`
	Version       string   `json:"version"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	Devices       []Device `json:"devices"`
}

// Device is one configured driver's health.
type Device struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// Problem is an RFC 9457 error response. Code is stable; Detail says what to do.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	// Errors lists every problem found in a request, when there are several.
	Errors []FieldError `json:"errors,omitempty"`
	// Limit is the rate limit that was hit, on a 429.
	Limit *LimitInfo `json:"limit,omitempty"`
}

// LimitInfo describes a rate limit.
type LimitInfo struct {
	// Scope is recipient, recipient_purpose, client, client_purpose or global.
	Scope  string `json:"scope"`
	Count  int    `json:"count"`
	Window string `json:"window"`
}

// FieldError is one problem with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s (%d %s): %s", p.Code, p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%s (%d %s)", p.Code, p.Status, p.Title)
}

// Event kinds of the event stream and webhooks.
const (
	EventMessageStatus = "message.status"
	EventDeviceStatus  = "device.status"
)

// FeedEvent is one entry of the event stream (GET /v1/events, the data of
// each server-sent event) and the body of one webhook delivery. ID grows
// with every event and is the SSE id to resume after.
type FeedEvent struct {
	ID   uint64    `json:"id"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Client owns the message; absent on device events.
	Client string `json:"client,omitempty"`

	// Message status changes (kind message.status).
	MessageID string `json:"message_id,omitempty"`
	Purpose   string `json:"purpose,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Driver    string `json:"driver,omitempty"`

	// Device state changes (kind device.status).
	Device      string `json:"device,omitempty"`
	DeviceState string `json:"device_state,omitempty"`
}

// WebhookDelivery is the state of one event's delivery to a client's
// webhook.
type WebhookDelivery struct {
	Client    string `json:"client"`
	EventID   uint64 `json:"event_id"`
	Kind      string `json:"kind"`
	MessageID string `json:"message_id,omitempty"`
	// State is pending, delivered or dead.
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	NextAt    *time.Time `json:"next_attempt_at,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	// LastStatus is the HTTP status of the last attempt, absent if none came.
	LastStatus int       `json:"last_status,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// WebhookDeliveryList is the answer of GET /v1/webhooks/deliveries.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
}
