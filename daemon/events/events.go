// Package events turns the store's event feed into what apps receive: the
// wire form shared by the server-sent event stream and webhooks, who may
// see which event, the webhook signature, and the worker that delivers a
// client's events to its webhook with persisted retries.
//
// It is separate from package api because the webhook worker runs beside
// the API, not inside a request, and both need the same wire form and
// visibility rule.
package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

// Wire converts a feed entry to its wire form.
func Wire(e store.FeedEntry) client.FeedEvent {
	return client.FeedEvent{
		ID: e.Seq, At: e.At, Kind: e.Kind, Client: e.Client,
		MessageID: e.MessageID, Purpose: e.Purpose, From: string(e.From), To: string(e.To),
		Reason: e.Reason, Detail: e.Detail, Driver: e.Driver,
		Device: e.Device, DeviceState: e.DeviceState,
	}
}

// Visible reports whether clientName sees e: an admin sees everything,
// every client sees device events, and a client sees its own messages.
func Visible(e store.FeedEntry, clientName string, admin bool) bool {
	return admin || e.Kind == store.FeedDevice || e.Client == clientName
}

// Webhook request headers.
const (
	HeaderTimestamp = "Smsgw-Timestamp"
	HeaderSignature = "Smsgw-Signature"
	HeaderEventID   = "Smsgw-Event-Id"
)

// signaturePrefix versions the signature scheme.
const signaturePrefix = "v1="

// Sign returns the Smsgw-Signature value of a webhook body sent at unix
// time ts: "v1=" and the hex HMAC-SHA256, keyed with secret, of the decimal
// timestamp, a full stop, and the body bytes exactly as sent.
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance")
)

// Verify checks a webhook request as a receiver should: the timestamp
// header is a decimal unix time within tolerance of now, and the signature
// header is Sign of it and body, compared in constant time.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := ParseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(strings.TrimSpace(signature))) {
		return ErrBadSignature
	}
	return nil
}

// ParseTimestamp reads a Smsgw-Timestamp value: 1 to 18 decimal digits.
func ParseTimestamp(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("%w: timestamp %q", ErrBadSignature, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: timestamp %q", ErrBadSignature, s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// ParseLastEventID reads a Last-Event-ID header (or the after query
// parameter): the decimal id of the last event received. Empty means none.
func ParseLastEventID(s string) (id uint64, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	if len(s) > 20 {
		return 0, false, errors.New("event id too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, fmt.Errorf("event id %q is not a decimal number", s)
		}
	}
	id, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("event id %q: %w", s, err)
	}
	return id, true, nil
}
