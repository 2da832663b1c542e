// Package drivers defines the contract between the dispatcher and the things
// that actually hand an SMS to a network: the Driver interface, the outcome
// classes a Send can end in, the optional capabilities a driver may offer, and
// the one explicit factory map from a config "type" to a constructor.
package drivers

import (
	"context"
	"time"
)

// Driver hands one message to a device. Send must return promptly when ctx is
// done. A nil error means the device or network accepted the message.
type Driver interface {
	Send(ctx context.Context, m *Outbound) (Receipt, error)
	Close() error
}

// Encoding is the character set a message is sent in.
type Encoding string

// The encodings a segment plan can use.
const (
	GSM7 Encoding = "gsm7"
	UCS2 Encoding = "ucs2"
)

// SegmentPlan says how the rendered text splits into SMS parts.
type SegmentPlan struct {
	Encoding Encoding `json:"encoding"`
	Parts    []string `json:"parts"`
}

// Outbound is one message as a driver sees it.
type Outbound struct {
	// ID is smsgw's message id; drivers that can deduplicate pass it on.
	ID string
	// To is the recipient in E.164 form.
	To string
	// Text is the rendered body. Drivers must never log it.
	Text string
	// Segments is the split of Text into parts.
	Segments SegmentPlan
	// ExpiresAt is when the message stops being worth sending.
	ExpiresAt time.Time
	// Attempt counts from 1.
	Attempt int
}

// Receipt is what a device said when it accepted a message.
type Receipt struct {
	// Ref is the device's own reference (an app id, a modem message reference).
	Ref string
	// Parts is how many SMS parts went out.
	Parts int
	// DeliveryReports is true when a delivery report will follow.
	DeliveryReports bool
}

// HealthChecker is implemented by drivers that can report device state.
type HealthChecker interface {
	Health(ctx context.Context) (Health, error)
}

// DeviceState summarises whether a device can send right now.
type DeviceState string

// Device states, from best to worst.
const (
	StateReady    DeviceState = "ready"
	StateDegraded DeviceState = "degraded"
	StateDown     DeviceState = "down"
)

// Health is a driver's view of its device. Optional fields are nil or zero
// when the device does not report them.
type Health struct {
	State     DeviceState `json:"state"`
	Detail    string      `json:"detail,omitempty"`
	Battery   *Battery    `json:"battery,omitempty"`
	SignalDBm *int        `json:"signal_dbm,omitempty"`
	SIM       string      `json:"sim,omitempty"`
	Operator  string      `json:"operator,omitempty"`
	LastError string      `json:"last_error,omitempty"`
	CheckedAt time.Time   `json:"checked_at"`
}

// Battery is a device's battery reading.
type Battery struct {
	Percent  int  `json:"percent"`
	Charging bool `json:"charging"`
}

// StatusQuerier is implemented by drivers that can tell what became of an
// earlier send, by smsgw's id or the device reference. The dispatcher uses it
// to resolve messages left in "sending" by a crash and to poll for delivery.
type StatusQuerier interface {
	Status(ctx context.Context, id, ref string) (Status, error)
}

// SendState is what a device knows about an earlier send.
type SendState string

// Send states a StatusQuerier may report.
const (
	// SendNotFound means the device never received the message: resending is safe.
	SendNotFound SendState = "not_found"
	// SendPending means the device has it but has not sent it yet.
	SendPending   SendState = "pending"
	SendSent      SendState = "sent"
	SendDelivered SendState = "delivered"
	SendFailed    SendState = "failed"
)

// Status is a StatusQuerier's answer.
type Status struct {
	State  SendState
	Ref    string
	Reason string
}

// EventSource is implemented by drivers that report things asynchronously:
// delivery reports, inbound messages, heartbeats. Events is called once; the
// channel is closed when the driver is closed.
type EventSource interface {
	Events() <-chan Event
}

// EventKind names what an Event reports.
type EventKind string

// Event kinds.
const (
	EventDelivery  EventKind = "delivery"
	EventInbound   EventKind = "inbound"
	EventHeartbeat EventKind = "heartbeat"
)

// Event is something a device reported on its own.
type Event struct {
	Kind EventKind
	// For deliveries: smsgw's message id when the device knows it, and the
	// device reference from the Receipt.
	ID  string
	Ref string
	// Delivered is true for a positive report; false with Reason for a failure.
	Delivered bool
	Reason    string
	// For inbound messages.
	From string
	Text string
	At   time.Time
}

// Diagnoser is implemented by drivers that can examine their device and say
// in plain words what is wrong and what to do. `smsgw doctor` calls it with
// a driver that was opened but has not sent anything.
type Diagnoser interface {
	Diagnose(ctx context.Context) Diagnosis
}

// Diagnosis is the result of Diagnose.
type Diagnosis struct {
	Checks []Check `json:"checks"`
	// OK is true when the device can send.
	OK bool `json:"ok"`
	// Verdict is one sentence for the technician.
	Verdict string `json:"verdict"`
}

// Check is one step of a diagnosis, such as "SIM ready" or "signal".
type Check struct {
	Name string `json:"name"`
	// Status is "ok", "warn" or "fail".
	Status string `json:"status"`
	// Detail is what was found, e.g. "-71 dBm (good)".
	Detail string `json:"detail,omitempty"`
	// Fix says what to do when Status is not ok.
	Fix string `json:"fix,omitempty"`
}

// Check statuses.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)
