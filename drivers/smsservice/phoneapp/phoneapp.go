// Package phoneapp is a simulated Android SMS gateway app for tests: the
// smsgate local-server API (/message, /message/{id}, /health, /webhooks,
// signed webhooks) and a simple JSON endpoint, with switchable faults —
// slow answers, error statuses, connections dropped after the request was
// read, and webhooks lost, duplicated or out of order. Serve Handler on
// httptest, or behind anything that forwards HTTP (a simulated adb device).
package phoneapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures an App.
type Options struct {
	// Username and Password, when set, are required as basic auth; Token,
	// when set, is accepted as a bearer token.
	Username, Password, Token string
	// SigningKey signs webhooks.
	SigningKey []byte
	// Manual keeps accepted messages Pending until Advance; otherwise they
	// go to Sent and (with delivery reports) Delivered at once.
	Manual bool
	// SimplePath is the simple dialect's endpoint; default /send.
	SimplePath string
	// Battery (percent) and Charging feed /health; default 80, charging.
	Battery     int
	NotCharging bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ReportPerPart makes delivery reports behave as the real app's: one
	// sms:delivered per SMS part (a part is 153 bytes of text here), not
	// one per message. DeliverPart delivers one part at a time.
	ReportPerPart bool
}

// Fault makes the next matching requests misbehave.
type Fault struct {
	// Method and Path select requests; Path is a prefix ("/message").
	Method, Path string
	// Store, for POST /message, accepts and stores the message before the
	// fault strikes (the reply is what is lost).
	Store bool
	// Status answers with this code and Body (with Retry-After when set).
	Status     int
	Body       string
	RetryAfter string
	// Drop reads the request, then closes the connection without a reply.
	Drop bool
	// Stall holds the request until the client gives up or the app closes.
	Stall bool
	// Times is how many requests it applies to; 0 means 1.
	Times int
}

// WebhookFaults disturb webhook delivery.
type WebhookFaults struct {
	// Lose drops every webhook.
	Lose bool
	// Duplicate sends each webhook again twice: once as is, once under a
	// new envelope id.
	Duplicate bool
	// Reverse sends the webhooks of one message state change in reverse
	// order (delivered before sent).
	Reverse bool
}

// App is the simulated phone app.
type App struct {
	opts Options
	hc   *http.Client

	mu       sync.Mutex
	messages map[string]*message
	order    []string
	received map[string]int
	posts    map[string]int
	hooks    map[string]Webhook
	faults   []*Fault
	hookF    WebhookFaults
	stalled  int
	stallCh  chan struct{} // closed and replaced when stalled changes
	seq      int
	sentHook int
	lostHook int
	closed   chan struct{}
	closing  sync.Once
	wg       sync.WaitGroup
	inflight int        // webhook batches being delivered
	settled  *sync.Cond // on mu, signalled when inflight drops to 0
}

// Webhook is one registration.
type Webhook struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Event string `json:"event"`
}

type message struct {
	ID         string            `json:"id"`
	DeviceID   string            `json:"deviceId"`
	State      string            `json:"state"`
	Recipients []recipient       `json:"recipients"`
	States     map[string]string `json:"states"`
	Text       *struct {
		Text string `json:"text"`
	} `json:"textMessage,omitempty"`
	reports   bool
	parts     int
	delivered int // parts delivered so far (DeliverPart)
}

type recipient struct {
	PhoneNumber string  `json:"phoneNumber"`
	State       string  `json:"state"`
	Error       *string `json:"error"`
}

// App states.
const (
	StatePending   = "Pending"
	StateProcessed = "Processed"
	StateSent      = "Sent"
	StateDelivered = "Delivered"
	StateFailed    = "Failed"
)

// DeviceID is the simulated device's id.
const DeviceID = "0123456789abcdef0123456789abcdef"

// New returns an app.
func New(opts Options) *App {
	if opts.SimplePath == "" {
		opts.SimplePath = "/send"
	}
	if opts.Battery == 0 {
		opts.Battery = 80
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{
		opts:     opts,
		hc:       &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		messages: map[string]*message{},
		received: map[string]int{},
		posts:    map[string]int{},
		hooks:    map[string]Webhook{},
		stallCh:  make(chan struct{}),
		closed:   make(chan struct{}),
	}
	a.settled = sync.NewCond(&a.mu)
	return a
}

// Inject queues a fault.
func (a *App) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	a.mu.Lock()
	a.faults = append(a.faults, &f)
	a.mu.Unlock()
}

// ClearFaults removes the queued faults.
func (a *App) ClearFaults() {
	a.mu.Lock()
	a.faults = nil
	a.mu.Unlock()
}

// SetWebhookFaults sets how webhooks are disturbed.
func (a *App) SetWebhookFaults(f WebhookFaults) {
	a.mu.Lock()
	a.hookF = f
	a.mu.Unlock()
}

// Received is how many times the message id was accepted for sending: with
// deduplication at most 1.
func (a *App) Received(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received[id]
}

// Posts is how many POST /message requests named id, duplicates included.
func (a *App) Posts(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.posts[id]
}

// State is the aggregate state of a message, "" when unknown.
func (a *App) State(id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.messages[id]; ok {
		return m.State
	}
	return ""
}

// Webhooks returns the registered webhooks.
func (a *App) Webhooks() []Webhook {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Webhook, 0, len(a.hooks))
	for _, h := range a.hooks {
		out = append(out, h)
	}
	return out
}

// WebhookCounts returns how many webhook calls were made and how many were
// lost on purpose.
func (a *App) WebhookCounts() (sent, lost int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sentHook, a.lostHook
}

// WaitStalled blocks until at least n requests are stalled, or ctx is done.
func (a *App) WaitStalled(ctx context.Context, n int) error {
	for {
		a.mu.Lock()
		have, ch := a.stalled, a.stallCh
		a.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *App) setStalled(delta int) {
	a.mu.Lock()
	a.stalled += delta
	close(a.stallCh)
	a.stallCh = make(chan struct{})
	a.mu.Unlock()
}

// Advance moves a message to state (Processed, Sent, Delivered or Failed,
// with reason) and fires the matching webhooks.
func (a *App) Advance(id, state, reason string) error {
	a.mu.Lock()
	m, ok := a.messages[id]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("phoneapp: no message %q", id)
	}
	events := a.moveLocked(m, state, reason)
	a.mu.Unlock()
	a.fire(events)
	return nil
}

// DeliverPart delivers one more part of a Sent message: one sms:delivered
// fires, and with the last part the message becomes Delivered, as the
// real app reports per part and aggregates the state.
func (a *App) DeliverPart(id string) error {
	a.mu.Lock()
	m, ok := a.messages[id]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("phoneapp: no message %q", id)
	}
	if m.State != StateSent {
		a.mu.Unlock()
		return fmt.Errorf("phoneapp: message %q is %s, not %s", id, m.State, StateSent)
	}
	m.delivered++
	now := a.opts.Now().Format(time.RFC3339Nano)
	if m.delivered >= max(m.parts, 1) {
		m.State = StateDelivered
		m.States[StateDelivered] = now
	}
	var events []hookEvent
	for i := range m.Recipients {
		rc := &m.Recipients[i]
		rc.State = m.State
		events = append(events, hookEvent{"sms:delivered", map[string]any{
			"messageId": m.ID, "phoneNumber": rc.PhoneNumber, "recipient": rc.PhoneNumber, "simNumber": 1, "deliveredAt": now,
		}})
	}
	a.mu.Unlock()
	a.fire(events)
	return nil
}

// Settle waits until every webhook fired so far was answered (or failed).
func (a *App) Settle() {
	a.mu.Lock()
	for a.inflight > 0 {
		a.settled.Wait()
	}
	a.mu.Unlock()
}

// Close releases stalled requests and waits for webhook deliveries.
func (a *App) Close() {
	a.closing.Do(func() { close(a.closed) })
	a.wg.Wait()
	a.hc.CloseIdleConnections()
}

// Handler serves the app's API.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("GET /{$}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "model": "Simulated"})
	}))
	mux.HandleFunc("POST /message", a.auth(a.postMessage))
	mux.HandleFunc("POST /messages", a.auth(a.postMessage))
	mux.HandleFunc("GET /message/{id}", a.auth(a.getMessage))
	mux.HandleFunc("GET /messages/{id}", a.auth(a.getMessage))
	mux.HandleFunc("GET /webhooks", a.auth(a.listHooks))
	mux.HandleFunc("POST /webhooks", a.auth(a.putHook))
	mux.HandleFunc("DELETE /webhooks/{id}", a.auth(a.deleteHook))
	mux.HandleFunc("POST "+a.opts.SimplePath, a.auth(a.postSimple))
	return a.faulty(mux)
}

// faulty applies the first queued fault matching the request.
func (a *App) faulty(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := a.takeFault(r)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if f.Store && r.Method == http.MethodPost && (r.URL.Path == "/message" || r.URL.Path == "/messages" || r.URL.Path == a.opts.SimplePath) {
			rec := &discard{h: http.Header{}}
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(rec, r2)
		}
		switch {
		case f.Stall:
			a.setStalled(1)
			select {
			case <-r.Context().Done():
			case <-a.closed:
			}
			a.setStalled(-1)
			hijackClose(w)
		case f.Drop:
			hijackClose(w)
		default:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, f.Body)
		}
	})
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func (a *App) takeFault(r *http.Request) *Fault {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, f := range a.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			f.Times--
			if f.Times <= 0 {
				a.faults = append(a.faults[:i], a.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func (a *App) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := a.opts
		if o.Password == "" && o.Token == "" {
			h(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); ok && o.Password != "" && u == o.Username && p == o.Password {
			h(w, r)
			return
		}
		if o.Token != "" {
			got := r.Header.Get("Authorization")
			if got == "Bearer "+o.Token || got == o.Token {
				h(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Access to SMS Gateway"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

type postBody struct {
	ID          string `json:"id"`
	TextMessage *struct {
		Text string `json:"text"`
	} `json:"textMessage"`
	Message            string   `json:"message"`
	PhoneNumbers       []string `json:"phoneNumbers"`
	SimNumber          *int     `json:"simNumber"`
	TTL                *int     `json:"ttl"`
	ValidUntil         string   `json:"validUntil"`
	WithDeliveryReport *bool    `json:"withDeliveryReport"`
}

func (a *App) postMessage(w http.ResponseWriter, r *http.Request) {
	var b postBody
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&b); err != nil {
		fail(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	switch {
	case len(b.PhoneNumbers) == 0:
		fail(w, http.StatusBadRequest, "phoneNumbers is empty")
		return
	case b.TextMessage == nil && b.Message == "":
		fail(w, http.StatusBadRequest, "one of textMessage, dataMessage or message is required")
		return
	case b.TextMessage != nil && b.TextMessage.Text == "":
		fail(w, http.StatusBadRequest, "text is empty")
		return
	case b.SimNumber != nil && (*b.SimNumber < 1 || *b.SimNumber > 3):
		fail(w, http.StatusBadRequest, "simNumber must be 1 to 3")
		return
	case b.TTL != nil && b.ValidUntil != "":
		fail(w, http.StatusBadRequest, "fields conflict: ttl and validUntil")
		return
	}
	if b.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339, b.ValidUntil)
		if err != nil {
			fail(w, http.StatusBadRequest, "validUntil is not RFC 3339")
			return
		}
		if !t.After(a.opts.Now()) {
			fail(w, http.StatusBadRequest, "message already expired")
			return
		}
	}
	a.mu.Lock()
	if b.ID == "" {
		a.seq++
		b.ID = fmt.Sprintf("gen%018d", a.seq)
	}
	a.posts[b.ID]++
	if _, dup := a.messages[b.ID]; dup {
		a.mu.Unlock()
		fail(w, http.StatusConflict, "Message with the same ID already exists")
		return
	}
	m := &message{ID: b.ID, DeviceID: DeviceID, States: map[string]string{}, reports: b.WithDeliveryReport == nil || *b.WithDeliveryReport}
	if b.TextMessage != nil {
		m.Text = b.TextMessage
		m.parts = (len(b.TextMessage.Text) + 152) / 153
	}
	for _, p := range b.PhoneNumbers {
		m.Recipients = append(m.Recipients, recipient{PhoneNumber: p, State: "Pending"})
	}
	m.State = "Pending"
	m.States["Pending"] = a.opts.Now().Format(time.RFC3339Nano)
	a.messages[b.ID] = m
	a.order = append(a.order, b.ID)
	a.received[b.ID]++
	var events []hookEvent
	if !a.opts.Manual {
		events = append(events, a.moveLocked(m, "Processed", "")...)
		events = append(events, a.moveLocked(m, "Sent", "")...)
		if m.reports {
			events = append(events, a.moveLocked(m, "Delivered", "")...)
		}
	}
	reply := *m
	a.mu.Unlock()
	writeJSON(w, http.StatusAccepted, reply)
	a.fire(events)
}

type hookEvent struct {
	event   string
	payload map[string]any
}

// moveLocked sets the state of m and every recipient and returns the
// webhook events it causes. Call with a.mu held.
func (a *App) moveLocked(m *message, state, reason string) []hookEvent {
	now := a.opts.Now().Format(time.RFC3339Nano)
	m.State = state
	m.States[state] = now
	var evs []hookEvent
	for i := range m.Recipients {
		rc := &m.Recipients[i]
		rc.State = state
		p := map[string]any{"messageId": m.ID, "phoneNumber": rc.PhoneNumber, "recipient": rc.PhoneNumber, "simNumber": 1}
		switch state {
		case "Sent":
			p["partsCount"], p["sentAt"] = max(m.parts, 1), now
			evs = append(evs, hookEvent{"sms:sent", p})
		case "Delivered":
			p["deliveredAt"] = now
			reports := 1
			if a.opts.ReportPerPart {
				reports = max(m.parts-m.delivered, 1)
				m.delivered = max(m.parts, 1)
			}
			for range reports {
				evs = append(evs, hookEvent{"sms:delivered", maps.Clone(p)})
			}
		case "Failed":
			r := reason
			rc.Error = &r
			p["reason"], p["failedAt"] = reason, now
			evs = append(evs, hookEvent{"sms:failed", p})
		}
	}
	return evs
}

// Receive simulates an inbound SMS and fires sms:received.
func (a *App) Receive(from, text string) {
	a.mu.Lock()
	a.seq++
	id := fmt.Sprintf("in%019d", a.seq)
	a.mu.Unlock()
	a.fire([]hookEvent{{"sms:received", map[string]any{
		"messageId": id, "message": text, "sender": from, "phoneNumber": from, "simNumber": 1,
		"receivedAt": a.opts.Now().UTC().Format(time.RFC3339),
	}}})
}

// fire delivers webhook events in the background, with the faults set.
func (a *App) fire(events []hookEvent) {
	if len(events) == 0 {
		return
	}
	a.mu.Lock()
	f := a.hookF
	type call struct {
		url  string
		body []byte
	}
	var calls []call
	for _, ev := range events {
		for _, h := range a.hooks {
			if h.Event != ev.event {
				continue
			}
			a.seq++
			env := map[string]any{"id": fmt.Sprintf("wh%019d", a.seq), "webhookId": h.ID, "event": ev.event, "deviceId": DeviceID, "payload": ev.payload}
			b, _ := json.Marshal(env)
			calls = append(calls, call{h.URL, b})
			if f.Duplicate {
				calls = append(calls, call{h.URL, b})
				a.seq++
				env["id"] = fmt.Sprintf("wh%019d", a.seq)
				b2, _ := json.Marshal(env)
				calls = append(calls, call{h.URL, b2})
			}
		}
	}
	if f.Lose {
		a.lostHook += len(calls)
		a.mu.Unlock()
		return
	}
	if f.Reverse {
		for i, j := 0, len(calls)-1; i < j; i, j = i+1, j-1 {
			calls[i], calls[j] = calls[j], calls[i]
		}
	}
	a.sentHook += len(calls)
	a.wg.Add(1)
	a.inflight++
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			if a.inflight--; a.inflight == 0 {
				a.settled.Broadcast()
			}
			a.mu.Unlock()
		}()
		for _, c := range calls {
			a.post(c.url, c.body)
		}
	}()
}

// post sends one signed webhook; failures are dropped (the real app
// retries; the driver's polling covers the loss).
func (a *App) post(url string, body []byte) {
	ts := strconv.FormatInt(a.opts.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Signature", Sign(a.opts.SigningKey, body, ts))
	req.Header.Set("User-Agent", "phoneapp/1.0")
	resp, err := a.hc.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// Sign returns the hex signature the app puts in X-Signature.
func Sign(key, body []byte, ts string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	mac.Write([]byte(ts))
	return hex.EncodeToString(mac.Sum(nil))
}

func (a *App) getMessage(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	m, ok := a.messages[r.PathValue("id")]
	var reply message
	if ok {
		reply = *m
		reply.Recipients = append([]recipient(nil), m.Recipients...)
	}
	a.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "Message not found")
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

func (a *App) listHooks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Webhooks())
}

func (a *App) putHook(w http.ResponseWriter, r *http.Request) {
	var h Webhook
	if err := json.NewDecoder(r.Body).Decode(&h); err != nil || h.URL == "" || h.Event == "" {
		fail(w, http.StatusBadRequest, "url and event are required")
		return
	}
	a.mu.Lock()
	if h.ID == "" {
		a.seq++
		h.ID = fmt.Sprintf("hook%017d", a.seq)
	}
	a.hooks[h.ID] = h
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, h)
}

func (a *App) deleteHook(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	delete(a.hooks, r.PathValue("id"))
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

type check struct {
	Status        string  `json:"status"`
	ObservedValue float64 `json:"observedValue"`
	ObservedUnit  string  `json:"observedUnit"`
	Description   string  `json:"description"`
}

func (a *App) health(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	failed := 0
	for _, m := range a.messages {
		if m.State == "Failed" {
			failed++
		}
	}
	a.mu.Unlock()
	battery := check{Status: "pass", ObservedValue: float64(a.opts.Battery), ObservedUnit: "percent", Description: "Battery level in percent"}
	switch {
	case a.opts.Battery < 10:
		battery.Status = "fail"
	case a.opts.Battery < 25:
		battery.Status = "warn"
	}
	charging := 3.0
	if a.opts.NotCharging {
		charging = 0
	}
	checks := map[string]check{
		"battery:level":        battery,
		"battery:charging":     {Status: "pass", ObservedValue: charging, ObservedUnit: "flags"},
		"connection:status":    {Status: "pass", ObservedValue: 1, ObservedUnit: "boolean"},
		"connection:transport": {Status: "pass", ObservedValue: 4, ObservedUnit: "flags"},
		"messages:failed":      {Status: "pass", ObservedValue: float64(failed), ObservedUnit: "messages"},
	}
	if failed > 0 {
		c := checks["messages:failed"]
		c.Status = "warn"
		checks["messages:failed"] = c
	}
	status := "pass"
	for _, c := range checks {
		if c.Status == "fail" {
			status = "fail"
		} else if c.Status == "warn" && status == "pass" {
			status = "warn"
		}
	}
	code := http.StatusOK
	if status == "fail" {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, map[string]any{"status": status, "version": "1.68.0-sim", "releaseId": 1, "checks": checks})
}

// postSimple is the simple dialect: any JSON with "to" and "message";
// "messageID" is reused when given. Replies {"messageId", "status"}.
func (a *App) postSimple(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		fail(w, http.StatusBadRequest, "invalid JSON")
		return
	}
	to, _ := b["to"].(string)
	text, _ := b["message"].(string)
	if to == "" || text == "" {
		fail(w, http.StatusBadRequest, "to and message are required")
		return
	}
	id, _ := b["messageID"].(string)
	a.mu.Lock()
	if id == "" {
		a.seq++
		id = fmt.Sprintf("simple%015d", a.seq)
	}
	a.posts[id]++
	a.received[id]++
	m := &message{ID: id, DeviceID: DeviceID, State: "Pending", States: map[string]string{}, Recipients: []recipient{{PhoneNumber: to, State: "Pending"}}}
	a.messages[id] = m
	if !a.opts.Manual {
		a.moveLocked(m, "Sent", "")
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"messageId": id, "status": "queued"})
}
