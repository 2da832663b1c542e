// Package smsservice drives an Android SMS app over HTTP: on the LAN, or on
// 127.0.0.1 through an adb forward (the adb driver reuses this package
// through New and OptionsFromConfig).
//
// Two dialects share one transport. smsgate speaks the local-server API of
// "SMS Gateway for Android": our message id is the app's id, so a handoff
// repeated after a timeout or a crash is recognised (409, then a lookup);
// states come from signed webhooks and from polling GET /message/{id}, and
// each final state is reported once. simple sends one configurable JSON
// request and admits what it cannot know: it has no delivery reports and
// answers Status only for sends it made itself in this process.
//
// The wire model is in the sub-package-free files smsgate.go and simple.go;
// the simulated phone app the tests use is in phoneapp.
package smsservice

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
)

// eventBuffer is the capacity of the events channel.
const eventBuffer = 256

// Driver is an smsservice driver. It implements drivers.Driver,
// HealthChecker, StatusQuerier, EventSource and Diagnoser.
type Driver struct {
	name    string
	opts    Options
	log     *slog.Logger
	http    *client
	dialect dialect

	events chan drivers.Event
	done   chan struct{}
	bg     sync.WaitGroup
	// emitMu orders emits (read side) with the closing of events (write
	// side); emits never wait on one another.
	emitMu       sync.RWMutex
	eventsClosed bool
	// dropped counts events dropped because the buffer was full.
	dropped atomic.Int64

	hooks *receiver // nil without webhooks

	mu         sync.Mutex
	closed     bool
	lastSend   time.Time
	heartbeat  time.Time
	failures   []time.Time
	lastError  string
	registered bool
	regError   string

	// smsgate: messages handed over without a final state, by app id,
	// and the app ids whose final state was reported.
	open  map[string]*tracked
	final map[string]time.Time
	// simple: what this process handed over or refused, by our id.
	memory map[string]memo
}

// dialect is what differs between the two APIs.
type dialect interface {
	send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error)
	status(ctx context.Context, id, ref string) (drivers.Status, error)
	health(ctx context.Context) (drivers.Health, error)
}

// New builds a driver for the app at opts.BaseURL. With webhooks it binds
// opts.Webhook.Listen at once and registers its URL on the phone in the
// background (retried every poll interval until the phone accepts).
func New(name string, opts Options, log *slog.Logger) (*Driver, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("smsservice %s: %w", name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{
		name: name, opts: o, log: log.With(slog.String("driver", name)),
		http:   newClient(o),
		events: make(chan drivers.Event, eventBuffer),
		done:   make(chan struct{}),
		open:   map[string]*tracked{},
		final:  map[string]time.Time{},
		memory: map[string]memo{},
	}
	switch o.Dialect {
	case DialectSimple:
		d.dialect = &simple{d: d}
	default:
		d.dialect = &smsgate{d: d}
	}
	if o.Webhook.Listen != "" {
		r, err := startReceiver(d, o.Webhook)
		if err != nil {
			return nil, fmt.Errorf("smsservice %s: %w", name, err)
		}
		d.hooks = r
	}
	if o.Dialect == DialectSMSGate {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			d.pollLoop()
		}()
	}
	return d, nil
}

// Name returns the driver's configured name.
func (d *Driver) Name() string { return d.name }

// Send hands m to the phone app. An expired message is refused before
// anything is sent; cancellation or a closed driver before the request
// leaves is transient.
func (d *Driver) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	if m == nil {
		return drivers.Receipt{}, drivers.Permanent(CodeRejected, "nil message", nil)
	}
	if err := d.precheck(ctx, m); err != nil {
		return drivers.Receipt{}, err
	}
	r, err := d.dialect.send(ctx, m)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.opts.Now()
	if err != nil {
		de := drivers.Classify(err)
		d.failures = append(d.failures, now)
		d.lastError = de.Error()
		d.log.Warn("send failed", slog.String("id", m.ID), slog.Any("to", logging.Phone(m.To)),
			slog.String("class", string(de.Class)), slog.String("code", de.Code))
		return drivers.Receipt{}, err
	}
	d.lastSend = now
	d.heartbeat = now
	d.log.Debug("handed to the phone app", slog.String("id", m.ID), slog.String("ref", r.Ref), slog.Any("to", logging.Phone(m.To)))
	return r, nil
}

func (d *Driver) precheck(ctx context.Context, m *drivers.Outbound) error {
	if err := ctx.Err(); err != nil {
		return drivers.Transient(CodeCancelled, "cancelled before the request left", context.Cause(ctx))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return drivers.Transient(CodeClosed, "driver closed before the request left", nil)
	}
	if !m.ExpiresAt.IsZero() && !d.opts.Now().Before(m.ExpiresAt) {
		d.remember(m.ID, memoRefused, "")
		return drivers.Permanent(CodeExpired, "message expired before it was handed to the phone", nil)
	}
	return nil
}

// Status says what the app knows of an earlier send (see the dialects).
func (d *Driver) Status(ctx context.Context, id, ref string) (drivers.Status, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Status{}, drivers.Transient(CodeCancelled, "cancelled", err)
	}
	return d.dialect.status(ctx, id, ref)
}

// Events returns delivery reports and inbound messages; it is closed by
// Close.
func (d *Driver) Events() <-chan drivers.Event { return d.events }

// emit queues ev without waiting, so that no caller (Send above all) is
// held by a reader that is behind. It reports whether ev was queued: a
// full buffer drops it, counted and logged; finish then follows the
// message again so that polling reports its final state later.
func (d *Driver) emit(ev drivers.Event) bool {
	d.emitMu.RLock()
	defer d.emitMu.RUnlock()
	if d.eventsClosed {
		return false
	}
	select {
	case d.events <- ev:
		return true
	default:
	}
	n := d.dropped.Add(1)
	lvl := slog.LevelWarn
	if ev.Kind == drivers.EventHeartbeat {
		lvl = slog.LevelDebug
	}
	d.log.Log(context.Background(), lvl, "event buffer full; event dropped",
		slog.String("kind", string(ev.Kind)), slog.String("id", ev.ID), slog.Int64("dropped_total", n))
	return false
}

// emitWait queues ev, waiting for room until the driver closes. Only for
// events nothing else can bring back (inbound messages), and never on the
// Send path: the webhook handler waiting holds the app's retry instead.
func (d *Driver) emitWait(ev drivers.Event) {
	d.emitMu.RLock()
	defer d.emitMu.RUnlock()
	if d.eventsClosed {
		return
	}
	select {
	case d.events <- ev:
	case <-d.done:
	}
}

// Close stops the webhook receiver and the poller, closes the events
// channel and idle connections. Sends in flight finish on their own
// context. Calling it again does nothing.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.done)
	var err error
	if d.hooks != nil {
		err = d.hooks.close()
	}
	d.bg.Wait()
	d.emitMu.Lock()
	d.eventsClosed = true
	close(d.events)
	d.emitMu.Unlock()
	d.http.tr.CloseIdleConnections()
	return err
}

// beat records a sign of life from the app.
func (d *Driver) beat() {
	d.mu.Lock()
	d.heartbeat = d.opts.Now()
	d.mu.Unlock()
}

// failuresLastHour counts failed sends in the last hour, dropping older ones.
func (d *Driver) failuresLastHour(now time.Time) int {
	cut := 0
	for cut < len(d.failures) && now.Sub(d.failures[cut]) > time.Hour {
		cut++
	}
	d.failures = d.failures[cut:]
	return len(d.failures)
}

// Health reports the app's state (see the dialects) with what the driver
// saw itself: failures in the last hour, last send, heartbeat age.
func (d *Driver) Health(ctx context.Context) (drivers.Health, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Health{}, fmt.Errorf("smsservice health: %w", err)
	}
	h, err := d.dialect.health(ctx)
	if err != nil {
		return h, err
	}
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		h.State, h.Detail = drivers.StateDown, "driver closed"
	}
	own := fmt.Sprintf("our failed sends last hour: %d", d.failuresLastHour(now))
	if n := d.dropped.Load(); n > 0 {
		own += fmt.Sprintf("; events dropped (buffer full): %d", n)
	}
	if !d.lastSend.IsZero() {
		own += "; last send " + ago(now, d.lastSend)
	}
	if !d.heartbeat.IsZero() {
		own += "; heartbeat " + ago(now, d.heartbeat)
	}
	if d.hooks != nil && !d.registered {
		own += "; webhooks not registered"
		if d.regError != "" {
			own += " (" + d.regError + ")"
		}
	}
	h.Detail = joinDetail(h.Detail, own)
	if h.LastError == "" {
		h.LastError = d.lastError
	}
	h.CheckedAt = now.UTC()
	return h, nil
}

func ago(now, t time.Time) string {
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// memo is what the simple dialect remembers of one id.
type memo struct {
	kind memoKind
	ref  string
}

type memoKind int

const (
	memoRefused   memoKind = iota + 1 // never left: expired, or refused before writing
	memoHanded                        // the app accepted it
	memoUncertain                     // may have left
)

// remember records what became of id in this process. Call with d.mu held.
// An id once handed over or uncertain is never downgraded to refused.
func (d *Driver) remember(id string, k memoKind, ref string) {
	if prev, ok := d.memory[id]; ok && prev.kind != memoRefused && k == memoRefused {
		return
	}
	d.memory[id] = memo{kind: k, ref: ref}
	if len(d.memory) > 10000 {
		for k := range d.memory {
			delete(d.memory, k)
			if len(d.memory) <= 5000 {
				break
			}
		}
	}
}
