package smsservice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
)

// Webhook signature headers: X-Signature is the hex HMAC-SHA256 of the raw
// body followed by X-Timestamp (Unix seconds).
const (
	HeaderSignature = "X-Signature"
	HeaderTimestamp = "X-Timestamp"
)

// maxHookBody bounds a webhook body.
const maxHookBody = 64 << 10

// Envelope is one webhook call.
type Envelope struct {
	ID        string       `json:"id"`
	WebhookID string       `json:"webhookId"`
	Event     string       `json:"event"`
	DeviceID  string       `json:"deviceId"`
	Payload   EventPayload `json:"payload"`
}

// EventPayload carries the fields of the message events.
type EventPayload struct {
	MessageID   string `json:"messageId"`
	PhoneNumber string `json:"phoneNumber"`
	Sender      string `json:"sender"`
	Recipient   string `json:"recipient"`
	SimNumber   int    `json:"simNumber"`
	PartsCount  int    `json:"partsCount"`
	Reason      string `json:"reason"`
	Message     string `json:"message"`
	ReceivedAt  string `json:"receivedAt"`
	SentAt      string `json:"sentAt"`
	DeliveredAt string `json:"deliveredAt"`
	FailedAt    string `json:"failedAt"`
}

// Errors of webhook checks.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the accepted window")
	ErrBadWebhook   = errors.New("malformed webhook")
)

// VerifySignature checks a webhook's signature and that its timestamp is
// within maxSkew of now. The comparison is constant-time.
func VerifySignature(secret, body []byte, timestamp, signature string, now time.Time, maxSkew time.Duration) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrStale, truncate(timestamp, 20))
	}
	sent := time.Unix(ts, 0)
	if d := now.Sub(sent); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	if !hmac.Equal(got, Sign(secret, body, timestamp)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body followed by timestamp.
func Sign(secret, body []byte, timestamp string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	mac.Write([]byte(strings.TrimSpace(timestamp)))
	return mac.Sum(nil)
}

// ParseWebhook decodes and checks a webhook body.
func ParseWebhook(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrBadWebhook, err)
	}
	switch {
	case e.ID == "":
		return Envelope{}, fmt.Errorf("%w: no id", ErrBadWebhook)
	case e.Event == "":
		return Envelope{}, fmt.Errorf("%w: no event", ErrBadWebhook)
	}
	switch e.Event {
	case EventSMSSent, EventSMSDelivered, EventSMSFailed:
		if e.Payload.MessageID == "" {
			return Envelope{}, fmt.Errorf("%w: %s without messageId", ErrBadWebhook, e.Event)
		}
	}
	return e, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// receiver is the HTTP server the phone's webhooks reach.
type receiver struct {
	d      *Driver
	secret []byte
	skew   time.Duration
	url    string
	srv    *http.Server
	ln     net.Listener
	served chan struct{}

	mu   sync.Mutex
	seen map[string]time.Time // envelope ids, for replays
}

func startReceiver(d *Driver, o WebhookOptions) (*receiver, error) {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{d: d, secret: o.Secret, skew: o.MaxSkew, url: o.URL, ln: ln,
		served: make(chan struct{}), seen: map[string]time.Time{}}
	if r.url == "" {
		r.url = "http://" + ln.Addr().String() + "/"
	}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// close stops the receiver and waits for its handlers.
func (r *receiver) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	<-r.served
	if err != nil {
		_ = r.srv.Close()
		return fmt.Errorf("webhook receiver: %w", err)
	}
	return nil
}

// ServeHTTP checks one webhook and applies it. Bad signatures and stale
// timestamps get 401; a replay is acknowledged and dropped.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxHookBody+1))
	if err != nil || len(body) > maxHookBody {
		http.Error(w, "body too large or unreadable", http.StatusBadRequest)
		return
	}
	now := r.d.opts.Now()
	if err := VerifySignature(r.secret, body, req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), now, r.skew); err != nil {
		r.d.log.Warn("webhook refused", slog.String("why", err.Error()), slog.String("from", req.RemoteAddr))
		http.Error(w, "signature refused", http.StatusUnauthorized)
		return
	}
	env, err := ParseWebhook(body)
	if err != nil {
		r.d.log.Warn("webhook refused", slog.String("why", err.Error()))
		http.Error(w, "malformed webhook", http.StatusBadRequest)
		return
	}
	if r.replay(env.ID, now) {
		r.d.log.Debug("webhook replay dropped", slog.String("webhook", env.ID), slog.String("event", env.Event))
		w.WriteHeader(http.StatusOK)
		return
	}
	r.d.beat()
	r.apply(req.Context(), env)
	w.WriteHeader(http.StatusOK)
}

// replay reports whether id was seen within the accepted window, and
// remembers it. Older ids are forgotten: their timestamps are stale anyway.
func (r *receiver) replay(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[id]; ok {
		return true
	}
	r.seen[id] = now
	if len(r.seen) > 1024 {
		for k, at := range r.seen {
			if now.Sub(at) > 2*r.skew {
				delete(r.seen, k)
			}
		}
	}
	return false
}

// apply turns a webhook into driver events. Delivery states go through the
// same once-only path as polling. The app sends one sms:delivered per
// part, so one is trusted alone only for a message known to be a single
// part; otherwise (multipart, or parts unknown: after a restart, or a
// webhook that beat Send's bookkeeping) it is confirmed by a lookup of the
// app's aggregate state, and the message is followed by polling until
// that state is final.
func (r *receiver) apply(ctx context.Context, env Envelope) {
	d := r.d
	p := env.Payload
	switch env.Event {
	case EventSMSDelivered:
		trusted, done := d.deliveryTrusted(p.MessageID)
		switch {
		case done:
			return
		case trusted:
			d.finish(p.MessageID, true, "")
			return
		}
		g := &smsgate{d: d}
		st, found, err := g.lookup(ctx, p.MessageID)
		switch {
		case err != nil:
			d.log.Debug("cannot confirm a delivery report; polling will", slog.String("ref", p.MessageID), slog.Any("err", err))
			d.track(p.MessageID, "", 0)
		case !found:
			d.log.Debug("delivery report for a message the app does not have; ignored", slog.String("ref", p.MessageID))
		default:
			d.track(p.MessageID, "", 0)
			d.observe(p.MessageID, st)
		}
	case EventSMSFailed:
		reason := p.Reason
		if reason == "" {
			reason = "the phone app reports the send failed"
		}
		d.finish(p.MessageID, false, reason)
	case EventSMSSent:
		d.setParts(p.MessageID, p.PartsCount)
		d.observe(p.MessageID, MessageState{ID: p.MessageID, State: StateSent})
	case EventSMSReceived:
		from := p.Sender
		if from == "" {
			from = p.PhoneNumber
		}
		at, err := time.Parse(time.RFC3339, p.ReceivedAt)
		if err != nil {
			at = d.opts.Now()
		}
		d.log.Info("inbound SMS", slog.Any("from", logging.Phone(from)))
		d.emitWait(drivers.Event{Kind: drivers.EventInbound, From: from, Text: p.Message, At: at.UTC()})
	case EventSystemPing:
		d.emit(drivers.Event{Kind: drivers.EventHeartbeat, At: d.opts.Now().UTC()})
	}
}
