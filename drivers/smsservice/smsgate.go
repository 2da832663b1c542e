package smsservice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"smsgw/drivers"
)

// App message states (the aggregate over recipients, and per recipient).
const (
	StatePending    = "Pending"
	StateProcessed  = "Processed"
	StateSent       = "Sent"
	StateDelivered  = "Delivered"
	StateFailed     = "Failed"
	StateCancelling = "Cancelling"
	StateCancelled  = "Cancelled"
)

// Webhook events the driver registers.
const (
	EventSMSSent      = "sms:sent"
	EventSMSDelivered = "sms:delivered"
	EventSMSFailed    = "sms:failed"
	EventSMSReceived  = "sms:received"
	EventSystemPing   = "system:ping"
)

// HookEvents are the events the driver registers on the phone.
var HookEvents = []string{EventSMSSent, EventSMSDelivered, EventSMSFailed, EventSMSReceived}

// maxAppID is the longest message id the app accepts.
const maxAppID = 36

// AppID is the id the app knows a message by: our id when it fits the
// app's 36 characters (ULIDs do), otherwise a stable digest of it.
func AppID(id string) string {
	if len(id) <= maxAppID {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:])[:maxAppID-1]
}

// PostMessage is the body of POST /message.
type PostMessage struct {
	ID                 string       `json:"id"`
	TextMessage        *TextMessage `json:"textMessage,omitempty"`
	PhoneNumbers       []string     `json:"phoneNumbers"`
	SimNumber          int          `json:"simNumber,omitempty"`
	ValidUntil         string       `json:"validUntil,omitempty"`
	WithDeliveryReport *bool        `json:"withDeliveryReport,omitempty"`
}

// TextMessage is the text of a message.
type TextMessage struct {
	Text string `json:"text"`
}

// MessageState is the app's view of a message (POST reply, GET /message/{id}).
type MessageState struct {
	ID         string            `json:"id"`
	DeviceID   string            `json:"deviceId,omitempty"`
	State      string            `json:"state"`
	Recipients []RecipientState  `json:"recipients"`
	States     map[string]string `json:"states,omitempty"`
}

// RecipientState is one recipient's state; Error is set when Failed.
type RecipientState struct {
	PhoneNumber string  `json:"phoneNumber"`
	State       string  `json:"state"`
	Error       *string `json:"error"`
}

// outcome reduces an app state to a send state and a reason.
func (m MessageState) outcome() (drivers.SendState, string) {
	reason := ""
	for _, r := range m.Recipients {
		if r.Error != nil && *r.Error != "" {
			reason = *r.Error
		}
	}
	return sendState(m.State), reason
}

func sendState(s string) drivers.SendState {
	switch s {
	case StateSent:
		return drivers.SendSent
	case StateDelivered:
		return drivers.SendDelivered
	case StateFailed, StateCancelled:
		return drivers.SendFailed
	default:
		return drivers.SendPending
	}
}

// smsgate is the SMS Gateway for Android dialect.
type smsgate struct{ d *Driver }

func (g *smsgate) send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	d := g.d
	aid := AppID(m.ID)
	reports := d.opts.DeliveryReports
	body := PostMessage{
		ID: aid, TextMessage: &TextMessage{Text: m.Text}, PhoneNumbers: []string{m.To},
		SimNumber: d.opts.SIMSlot, WithDeliveryReport: &reports,
	}
	if !m.ExpiresAt.IsZero() {
		body.ValidUntil = m.ExpiresAt.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return drivers.Receipt{}, drivers.Permanent(CodeRejected, "cannot encode the message", err)
	}
	rep, err := d.http.do(ctx, http.MethodPost, "/message", b, nil)
	if err != nil {
		de := drivers.Classify(err)
		if de.Class == drivers.ClassUncertain {
			return g.resolve(ctx, m, de)
		}
		return drivers.Receipt{}, de
	}
	switch {
	case rep.status >= 200 && rep.status < 300:
		var st MessageState
		if err := json.Unmarshal(rep.body, &st); err != nil || st.ID == "" {
			// Accepted, but the reply does not say what it is: the id we
			// sent is the app's id.
			st = MessageState{ID: aid, State: StatePending}
		}
		return g.accepted(m, st), nil
	case rep.status == http.StatusConflict:
		d.log.Info("the phone app already has this message; looking it up", slog.String("id", m.ID))
		return g.resolve(ctx, m, drivers.Uncertain(CodeAppError, "the app reports the id exists (HTTP 409) but cannot show it", nil))
	case rep.status >= 500 && rep.status != http.StatusServiceUnavailable:
		return g.resolve(ctx, m, statusError(rep, "/message", d.opts.Now()))
	}
	return drivers.Receipt{}, statusError(rep, "/message", d.opts.Now())
}

// resolve looks the message up after an uncertain handoff: found means it
// was handed over; not found means nothing left and resending is safe.
// When the send's context is already done the lookup gets a short
// detached deadline of its own.
func (g *smsgate) resolve(ctx context.Context, m *drivers.Outbound, cause *drivers.Error) (drivers.Receipt, error) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), min(g.d.opts.RequestTimeout, 5*time.Second))
		defer cancel()
	}
	st, found, err := g.lookup(ctx, AppID(m.ID))
	switch {
	case err != nil:
		return drivers.Receipt{}, drivers.Uncertain(cause.Code, cause.Detail+"; the lookup failed too", errors.Join(cause.Err, err))
	case !found:
		return drivers.Receipt{}, drivers.Transient(cause.Code, cause.Detail+"; the app does not have it, so it is safe to send again", cause.Err)
	}
	g.d.log.Info("handoff confirmed by lookup", slog.String("id", m.ID), slog.String("app_state", st.State))
	return g.accepted(m, st), nil
}

// accepted builds the receipt of a message the app has, and follows it
// until its final state.
func (g *smsgate) accepted(m *drivers.Outbound, st MessageState) drivers.Receipt {
	// Our segment plan is what the driver knows of the parts until the
	// app's sms:sent says how many it sent; no plan means unknown (0).
	g.d.track(st.ID, m.ID, len(m.Segments.Parts))
	g.d.observe(st.ID, st)
	return drivers.Receipt{Ref: st.ID, Parts: max(len(m.Segments.Parts), 1), DeliveryReports: g.d.opts.DeliveryReports}
}

// lookup reads GET /message/{id}; found is false on 404.
func (g *smsgate) lookup(ctx context.Context, aid string) (MessageState, bool, error) {
	rep, err := g.d.http.do(ctx, http.MethodGet, "/message/"+url.PathEscape(aid), nil, nil)
	if err != nil {
		return MessageState{}, false, err
	}
	switch {
	case rep.status == http.StatusNotFound:
		g.d.beat()
		return MessageState{}, false, nil
	case rep.status != http.StatusOK:
		return MessageState{}, false, statusError(rep, "/message/{id}", g.d.opts.Now())
	}
	var st MessageState
	if err := json.Unmarshal(rep.body, &st); err != nil {
		return MessageState{}, false, drivers.Uncertain(CodeBadReply, "the app's message state is not JSON", err)
	}
	if st.ID == "" {
		st.ID = aid
	}
	g.d.beat()
	return st, true, nil
}

// status answers from the app: 404 means the app never got the message.
// (The app forgets finished messages after its log lifetime; recovery only
// asks about recent ones.)
func (g *smsgate) status(ctx context.Context, id, ref string) (drivers.Status, error) {
	aid := AppID(id)
	if id == "" {
		aid = ref
	}
	if aid == "" {
		return drivers.Status{}, drivers.Permanent(CodeRejected, "no id or reference to look up", nil)
	}
	st, found, err := g.lookup(ctx, aid)
	if err != nil {
		return drivers.Status{}, err
	}
	if !found {
		return drivers.Status{State: drivers.SendNotFound}, nil
	}
	state, reason := st.outcome()
	if id != "" && (state == drivers.SendPending || state == drivers.SendSent) {
		// Follow it from now on: after a restart this is how the driver
		// learns of messages it handed over before. How many parts it has
		// is unknown until the app's sms:sent says.
		g.d.track(st.ID, id, 0)
	}
	return drivers.Status{State: state, Ref: st.ID, Reason: reason}, nil
}

// tracked is a message handed over without a final state yet.
type tracked struct {
	// id is our id; "" when the driver learnt of the message from a
	// webhook only (then the app id stands in for it).
	id string
	// parts is how many SMS parts the message has: 0 when unknown, from
	// our segment plan until the app's sms:sent says (appParts).
	parts    int
	appParts bool
	since    time.Time
}

// trackFor is how long a message is followed before the driver stops
// asking: past it, no delivery report will come.
const trackFor = 48 * time.Hour

// track follows the app id aid, sent as our id ("" when unknown), until its final state,
// unless it was reported already. parts is our segment plan's count, 0
// when unknown; the app's own count (setParts) wins over it.
func (d *Driver) track(aid, id string, parts int) {
	if d.opts.Dialect != DialectSMSGate {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, done := d.final[aid]; done {
		return
	}
	if t, ok := d.open[aid]; ok {
		if t.id == "" {
			t.id = id
		}
		if !t.appParts {
			t.parts = max(t.parts, parts)
		}
		return
	}
	d.open[aid] = &tracked{id: id, parts: parts, since: d.opts.Now()}
}

// setParts records the app's own count of aid's parts (sms:sent's
// partsCount), following aid from now on if it was not yet.
func (d *Driver) setParts(aid string, parts int) {
	if d.opts.Dialect != DialectSMSGate || parts <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, done := d.final[aid]; done {
		return
	}
	t, ok := d.open[aid]
	if !ok {
		t = &tracked{since: d.opts.Now()}
		d.open[aid] = t
	}
	t.parts, t.appParts = parts, true
}

// deliveryTrusted says whether an sms:delivered for aid may be taken as
// the whole message's: only when aid is known to be a single part. The
// app sends one sms:delivered per part, so for a multipart message or one
// whose parts are unknown (after a restart, or a webhook that beat
// track) the app's aggregate state must be looked up. done is true when
// aid's final state was reported already.
func (d *Driver) deliveryTrusted(aid string) (trusted, done bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.final[aid]; ok {
		return false, true
	}
	t, ok := d.open[aid]
	return ok && t.parts == 1, false
}

// observe applies a state seen by polling or lookup: a final state is
// reported once; anything else changes nothing, so a late or repeated
// answer never moves a message backwards.
func (d *Driver) observe(aid string, st MessageState) {
	state, reason := st.outcome()
	switch state {
	case drivers.SendDelivered:
		d.finish(aid, true, "")
	case drivers.SendFailed:
		if reason == "" {
			reason = "the phone app reports the message " + strings.ToLower(st.State)
		}
		d.finish(aid, false, reason)
	case drivers.SendSent:
		if !d.opts.DeliveryReports {
			// No report will come: sent is as far as the app can tell.
			d.mu.Lock()
			delete(d.open, aid)
			d.mu.Unlock()
		}
	}
}

// finish reports the final state of aid once.
func (d *Driver) finish(aid string, delivered bool, reason string) {
	d.mu.Lock()
	if _, done := d.final[aid]; done {
		d.mu.Unlock()
		return
	}
	now := d.opts.Now()
	id := aid
	t, ok := d.open[aid]
	if ok {
		if t.id != "" {
			id = t.id
		}
		delete(d.open, aid)
	} else {
		t = &tracked{since: now}
	}
	d.final[aid] = now
	if len(d.final) > 4096 {
		for k, at := range d.final {
			if now.Sub(at) > trackFor {
				delete(d.final, k)
			}
		}
	}
	d.mu.Unlock()
	d.log.Info("delivery state", slog.String("id", id), slog.Bool("delivered", delivered))
	if d.emit(drivers.Event{Kind: drivers.EventDelivery, ID: id, Ref: aid, Delivered: delivered, Reason: reason, At: now.UTC()}) {
		return
	}
	// The event was dropped (buffer full): follow aid again so the next
	// poll reports its final state anew.
	d.mu.Lock()
	if !d.closed {
		if _, reopened := d.open[aid]; !reopened {
			d.open[aid] = t
		}
		delete(d.final, aid)
	}
	d.mu.Unlock()
}

// pollLoop registers the webhooks until the phone accepts them and, every
// poll interval, looks up the messages without a final state, so that a
// lost webhook never leaves a message stuck.
func (d *Driver) pollLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	g := &smsgate{d: d}
	if d.hooks != nil {
		d.register(ctx)
	}
	t := time.NewTicker(d.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		need := d.hooks != nil && !d.registered
		d.mu.Unlock()
		if need {
			d.register(ctx)
		}
		g.pollOpen(ctx)
	}
}

// pollOpen looks up every message without a final state.
func (g *smsgate) pollOpen(ctx context.Context) {
	d := g.d
	now := d.opts.Now()
	d.mu.Lock()
	ids := make([]string, 0, len(d.open))
	for aid, t := range d.open {
		if now.Sub(t.since) > trackFor {
			delete(d.open, aid)
			continue
		}
		ids = append(ids, aid)
	}
	d.mu.Unlock()
	for _, aid := range ids {
		if ctx.Err() != nil {
			return
		}
		st, found, err := g.lookup(ctx, aid)
		switch {
		case err != nil:
			d.log.Debug("poll failed", slog.String("ref", aid), slog.Any("err", err))
		case !found:
			// The app forgot it (log lifetime) or never had it: nothing
			// more will be learnt.
			d.mu.Lock()
			delete(d.open, aid)
			d.mu.Unlock()
		default:
			d.observe(aid, st)
		}
	}
}

// Webhook is a webhook registration on the phone.
type Webhook struct {
	ID    string `json:"id,omitempty"`
	URL   string `json:"url"`
	Event string `json:"event"`
}

// hookID is the registration id of one event: an upsert key, so that
// registering again replaces instead of adding.
func (d *Driver) hookID(event string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, d.name)
	return "smsgw-" + name + "-" + strings.ReplaceAll(event, ":", "-")
}

// register upserts one webhook per event on the phone.
func (d *Driver) register(ctx context.Context) {
	var problem string
	for _, ev := range HookEvents {
		b, _ := json.Marshal(Webhook{ID: d.hookID(ev), URL: d.hooks.url, Event: ev})
		rep, err := d.http.do(ctx, http.MethodPost, "/webhooks", b, nil)
		switch {
		case err != nil:
			problem = drivers.Classify(err).Detail
		case rep.status < 200 || rep.status > 299:
			problem = statusError(rep, "/webhooks", d.opts.Now()).Detail
		}
		if problem != "" {
			break
		}
	}
	d.mu.Lock()
	d.registered, d.regError = problem == "", problem
	d.mu.Unlock()
	if problem != "" {
		d.log.Warn("webhook registration failed; will retry", slog.String("problem", problem))
		return
	}
	d.log.Info("webhooks registered on the phone", slog.String("url", d.hooks.url))
}

// Health is the app's /health answer.
type Health struct {
	Status  string                 `json:"status"`
	Version string                 `json:"version"`
	Checks  map[string]HealthCheck `json:"checks"`
}

// HealthCheck is one check of /health.
type HealthCheck struct {
	Status        string  `json:"status"`
	ObservedValue float64 `json:"observedValue"`
	ObservedUnit  string  `json:"observedUnit"`
	Description   string  `json:"description"`
}

// health reads GET /health. An unreachable app is reported as down, not as
// an error, so the detail can say why.
func (g *smsgate) health(ctx context.Context) (drivers.Health, error) {
	d := g.d
	now := d.opts.Now().UTC()
	rep, err := d.http.do(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		if ctx.Err() != nil {
			return drivers.Health{}, fmt.Errorf("smsservice health: %w", ctx.Err())
		}
		return drivers.Health{State: drivers.StateDown, Detail: "phone app unreachable at " + d.opts.BaseURL,
			LastError: drivers.Classify(err).Error(), CheckedAt: now}, nil
	}
	var h Health
	if err := json.Unmarshal(rep.body, &h); err != nil || h.Status == "" {
		return drivers.Health{State: drivers.StateDown, Detail: fmt.Sprintf("the app's /health answered HTTP %d without a health report: check url and dialect", rep.status),
			CheckedAt: now}, nil
	}
	d.beat()
	return healthFrom(h, now), nil
}

// healthFrom maps the app's report: pass → ready, warn → degraded,
// fail → down, with battery and connectivity.
func healthFrom(h Health, now time.Time) drivers.Health {
	out := drivers.Health{State: drivers.StateReady, CheckedAt: now}
	switch h.Status {
	case "warn":
		out.State = drivers.StateDegraded
	case "fail":
		out.State = drivers.StateDown
	}
	parts := []string{"app " + h.Status}
	if h.Version != "" {
		parts[0] += " (v" + h.Version + ")"
	}
	if lvl, ok := h.Checks["battery:level"]; ok {
		b := &drivers.Battery{Percent: min(max(int(lvl.ObservedValue), 0), 100)}
		if c, ok := h.Checks["battery:charging"]; ok {
			b.Charging = c.ObservedValue > 0
		}
		out.Battery = b
	}
	if c, ok := h.Checks["connection:status"]; ok {
		if c.ObservedValue > 0 {
			parts = append(parts, "connectivity up")
		} else {
			parts = append(parts, "connectivity down")
		}
	}
	if c, ok := h.Checks["connection:transport"]; ok {
		parts = append(parts, "transport "+transport(int(c.ObservedValue)))
	}
	if c, ok := h.Checks["messages:failed"]; ok {
		parts = append(parts, fmt.Sprintf("app failures last hour: %d", int(c.ObservedValue)))
	}
	var failing []string
	for name, c := range h.Checks {
		if c.Status != "pass" {
			failing = append(failing, name+" "+c.Status)
		}
	}
	if len(failing) > 0 {
		slices.Sort(failing)
		out.LastError = strings.Join(failing, ", ")
	}
	out.Detail = strings.Join(parts, "; ")
	return out
}

// transport names the connection:transport flags.
func transport(flags int) string {
	var names []string
	for _, f := range []struct {
		bit  int
		name string
	}{{2, "cellular"}, {4, "wifi"}, {8, "ethernet"}} {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}
