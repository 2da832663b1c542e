// Package sim is the simulated phone: smsgw's embedded default driver. It has
// a configurable latency, failure mix and delivery reports, remembers what it
// "sent" so it can answer status queries and deduplicate by message id, and
// can append every message that left to an outbox file (the phone's sent
// folder). It makes `smsgw run` useful on a laptop and drives the tests.
//
// The sim implements drivers.Driver, drivers.HealthChecker,
// drivers.StatusQuerier and drivers.EventSource, and offers a few controls for
// tests and benchmarks: Hold/Release to park sends, SetDown/SetUp to take the
// device offline, InjectInbound to receive a message, and SentCount/Sent to
// check exactly-once delivery.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
)

// DefaultEventBuffer is the capacity of the events channel when
// Options.EventBuffer is zero.
const DefaultEventBuffer = 1024

// Reason codes of the errors and reports the sim produces.
const (
	CodeCancelled   = "cancelled"
	CodeClosed      = "closed"
	CodeExpired     = "expired"
	CodeDeviceDown  = "device_down"
	CodeTransient   = "sim_transient"
	CodePermanent   = "sim_permanent"
	CodeUncertain   = "sim_uncertain"
	CodeUndelivered = "sim_undelivered"
)

// Options configures a simulated phone. The zero value is a phone that sends
// everything instantly, never fails and sends no delivery reports.
type Options struct {
	// Latency is how long each send takes before the message leaves.
	Latency time.Duration
	// Transient, Permanent and Uncertain are the probabilities that a send
	// ends in that class, each in [0, 1] and together at most 1. Half of the
	// uncertain sends really left: they are in the outbox and Status reports
	// them as sent.
	Transient float64
	Permanent float64
	Uncertain float64
	// Undelivered is the probability that a message that left gets a failed
	// delivery report.
	Undelivered float64
	// DeliveryReports makes the sim emit a delivery report DeliveryDelay
	// after each message that left.
	DeliveryReports bool
	DeliveryDelay   time.Duration
	// OutboxPath, when set, is a JSON-lines file to which every message that
	// left is appended (at, id, ref, to, parts). It is a development aid: it
	// holds full phone numbers and is created with mode 0600.
	OutboxPath string
	// OutboxText also keeps the message text, in the outbox file and in
	// Sent(). Off by default so that one-time codes are never persisted.
	OutboxText bool
	// EventBuffer is the capacity of the events channel; zero means
	// DefaultEventBuffer. When the buffer is full, new events are dropped
	// (and logged) rather than blocking Send: Status still reports the
	// delivery outcome, so a consumer that polls loses nothing.
	EventBuffer int
	// Seed seeds the random source when Rand is nil; zero picks a random seed.
	Seed int64
	// Rand, when set, replaces the random source. It returns values in
	// [0, 1) and is never called concurrently. Each send that reaches the
	// device draws once for its outcome, once more when the outcome is
	// uncertain (below 0.5 means the message left), and once more when it
	// left and delivery reports are on (below Undelivered means undelivered).
	Rand func() float64
}

func (o Options) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"transient", o.Transient},
		{"permanent", o.Permanent},
		{"uncertain", o.Uncertain},
		{"undelivered", o.Undelivered},
	} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s probability %v is not between 0 and 1", p.name, p.v)
		}
	}
	if sum := o.Transient + o.Permanent + o.Uncertain; sum > 1 {
		return fmt.Errorf("failure probabilities add up to %v, more than 1", sum)
	}
	if o.Latency < 0 {
		return fmt.Errorf("negative latency %v", o.Latency)
	}
	if o.DeliveryDelay < 0 {
		return fmt.Errorf("negative delivery delay %v", o.DeliveryDelay)
	}
	if o.EventBuffer < 0 {
		return fmt.Errorf("negative event buffer %d", o.EventBuffer)
	}
	return nil
}

// Record is what the sim remembers about a message that left.
type Record struct {
	ID    string
	Ref   string
	To    string
	Parts int
	// Text is set only when Options.OutboxText is true.
	Text string
	At   time.Time
	// State is sent until a delivery report settles it as delivered or failed.
	State  drivers.SendState
	Reason string
	// Uncertain is true when Send reported an uncertain outcome although
	// the message left.
	Uncertain bool
	// reports says whether a delivery report was promised.
	reports bool
}

func (r *Record) receipt() drivers.Receipt {
	return drivers.Receipt{Ref: r.Ref, Parts: r.Parts, DeliveryReports: r.reports}
}

// Driver is a simulated phone. It is safe for concurrent use.
type Driver struct {
	name   string
	opts   Options
	log    *slog.Logger
	events chan drivers.Event
	done   chan struct{} // closed by Close

	mu       sync.Mutex
	rand     func() float64
	closed   bool
	down     string // non-empty while the device is down
	seq      int
	records  []*Record
	byID     map[string]*Record
	byRef    map[string]*Record
	sends    map[string]int
	timers   map[int]*time.Timer // pending delivery reports, by ref number
	hold     chan struct{}       // non-nil while held; closed by Release
	held     int                 // sends parked in Hold
	heldChg  chan struct{}       // closed and replaced whenever held changes
	dropped  int
	outbox   *os.File
	reportWG sync.WaitGroup

	// started bounds what the sim can know without an outbox: it has no
	// memory of messages created before it started.
	started time.Time

	// inLatency, when set by tests, is called as a Send starts its latency wait.
	inLatency func()
}

// Compile-time checks of the capabilities the sim offers.
var (
	_ drivers.Driver        = (*Driver)(nil)
	_ drivers.HealthChecker = (*Driver)(nil)
	_ drivers.StatusQuerier = (*Driver)(nil)
	_ drivers.EventSource   = (*Driver)(nil)
)

// New returns a simulated phone called name. log is used as given (callers
// scope it, e.g. with the driver name); a nil log discards.
func New(name string, opts Options, log *slog.Logger) (*Driver, error) {
	if name == "" {
		return nil, errors.New("sim: empty driver name")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("sim: invalid options: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	buf := opts.EventBuffer
	if buf == 0 {
		buf = DefaultEventBuffer
	}
	d := &Driver{
		name:    name,
		opts:    opts,
		log:     log,
		events:  make(chan drivers.Event, buf),
		done:    make(chan struct{}),
		rand:    opts.Rand,
		byID:    make(map[string]*Record),
		byRef:   make(map[string]*Record),
		sends:   make(map[string]int),
		timers:  make(map[int]*time.Timer),
		heldChg: make(chan struct{}),
	}
	if d.rand == nil {
		seed := uint64(opts.Seed)
		if seed == 0 {
			seed = rand.Uint64()
		}
		d.rand = rand.New(rand.NewPCG(seed, seed^0x5eed)).Float64
	}
	d.started = time.Now()
	if opts.OutboxPath != "" {
		// The outbox is the phone's memory across restarts: what it lists
		// was sent, so Status can answer for messages of earlier runs.
		lines, err := readOutbox(opts.OutboxPath)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		for _, l := range lines {
			d.restore(l)
		}
		f, err := openOutbox(opts.OutboxPath)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		d.outbox = f
	}
	return d, nil
}

// Send simulates handing m to the phone. Cancellation, a closed driver or a
// device that is down before the message leaves give a transient error; an
// expired message a permanent one. Otherwise the outcome is drawn from the
// failure mix. A message id the sim already sent is not sent again: Send
// returns the original Receipt, as a gateway app answering "already exists"
// would.
func (d *Driver) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	if err := d.precheck(ctx, m); err != nil {
		return drivers.Receipt{}, err
	}
	if err := d.waitHold(ctx); err != nil {
		return drivers.Receipt{}, err
	}
	if d.opts.Latency > 0 {
		t := time.NewTimer(d.opts.Latency)
		defer t.Stop()
		if d.inLatency != nil {
			d.inLatency()
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return drivers.Receipt{}, cancelled(ctx)
		case <-d.done:
			return drivers.Receipt{}, closedErr()
		}
	}
	return d.handoff(ctx, m)
}

// precheck refuses, before any waiting, what can never be sent.
func (d *Driver) precheck(ctx context.Context, m *drivers.Outbound) error {
	if m == nil {
		return drivers.Permanent("invalid", "nil message", nil)
	}
	if ctx.Err() != nil {
		return cancelled(ctx)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return closedErr()
	}
	if _, sent := d.byID[m.ID]; sent && m.ID != "" {
		return nil // handoff answers with the earlier receipt
	}
	if expired(m) {
		return drivers.Permanent(CodeExpired, "message expired before it was sent", nil)
	}
	return nil
}

func expired(m *drivers.Outbound) bool {
	return !m.ExpiresAt.IsZero() && !time.Now().Before(m.ExpiresAt)
}

// handoff is the moment the message leaves, or does not.
func (d *Driver) handoff(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return drivers.Receipt{}, closedErr()
	case ctx.Err() != nil:
		return drivers.Receipt{}, cancelled(ctx)
	case d.down != "":
		return drivers.Receipt{}, drivers.Transient(CodeDeviceDown, d.down, nil)
	}
	if r, ok := d.byID[m.ID]; ok && m.ID != "" {
		d.log.Debug("sim: duplicate send, returning earlier receipt", "id", m.ID, "ref", r.Ref)
		return r.receipt(), nil
	}
	if expired(m) {
		d.log.Debug("sim: refused expired message", "id", m.ID)
		return drivers.Receipt{}, drivers.Permanent(CodeExpired, "message expired before it was sent", nil)
	}

	o := d.opts
	switch x := d.rand(); {
	case x < o.Transient:
		d.log.Debug("sim: transient failure", "id", m.ID, "to", logging.Phone(m.To))
		return drivers.Receipt{}, drivers.Transient(CodeTransient, "simulated transient failure", nil)
	case x < o.Transient+o.Permanent:
		d.log.Debug("sim: permanent failure", "id", m.ID, "to", logging.Phone(m.To))
		return drivers.Receipt{}, drivers.Permanent(CodePermanent, "simulated permanent failure", nil)
	case x < o.Transient+o.Permanent+o.Uncertain:
		left := d.rand() < 0.5
		if left {
			d.leave(m, true)
		}
		d.log.Debug("sim: uncertain outcome", "id", m.ID, "to", logging.Phone(m.To), "left", left)
		return drivers.Receipt{}, drivers.Uncertain(CodeUncertain, "simulated uncertain outcome", nil)
	}
	r := d.leave(m, false)
	d.log.Debug("sim: sent", "id", m.ID, "to", logging.Phone(m.To), "ref", r.Ref, "parts", r.Parts)
	return r.receipt(), nil
}

// leave records m as sent, writes it to the outbox and schedules its
// delivery report. d.mu must be held.
func (d *Driver) leave(m *drivers.Outbound, uncertain bool) *Record {
	d.seq++
	n := d.seq
	r := &Record{
		ID:        m.ID,
		Ref:       "sim-" + strconv.Itoa(n),
		To:        m.To,
		Parts:     max(len(m.Segments.Parts), 1),
		At:        time.Now().UTC(),
		State:     drivers.SendSent,
		Uncertain: uncertain,
		reports:   d.opts.DeliveryReports,
	}
	if d.opts.OutboxText {
		r.Text = m.Text
	}
	d.records = append(d.records, r)
	if m.ID != "" {
		d.byID[m.ID] = r
	}
	d.byRef[r.Ref] = r
	d.sends[m.ID]++
	if d.outbox != nil {
		if err := writeOutbox(d.outbox, r); err != nil {
			// The message left all the same; the outbox is only a log.
			d.log.Warn("sim: outbox write failed", "id", m.ID, "err", err)
		}
	}
	if d.opts.DeliveryReports {
		delivered := d.rand() >= d.opts.Undelivered
		d.reportWG.Add(1)
		d.timers[n] = time.AfterFunc(d.opts.DeliveryDelay, func() {
			defer d.reportWG.Done()
			d.report(n, r, delivered)
		})
	}
	return r
}

// report settles r and emits its delivery report.
func (d *Driver) report(n int, r *Record, delivered bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.timers, n)
	if d.closed {
		return
	}
	ev := drivers.Event{Kind: drivers.EventDelivery, ID: r.ID, Ref: r.Ref, Delivered: delivered, At: time.Now().UTC()}
	if delivered {
		r.State = drivers.SendDelivered
	} else {
		r.State, r.Reason = drivers.SendFailed, CodeUndelivered
		ev.Reason = CodeUndelivered
	}
	d.emit(ev)
}

// emit queues ev without blocking, dropping it when the buffer is full.
// d.mu must be held and d.closed false.
func (d *Driver) emit(ev drivers.Event) {
	select {
	case d.events <- ev:
	default:
		d.dropped++
		d.log.Warn("sim: event buffer full, event dropped", "kind", ev.Kind, "id", ev.ID, "ref", ev.Ref)
	}
}

// waitHold parks the caller while the driver is held.
func (d *Driver) waitHold(ctx context.Context) error {
	d.mu.Lock()
	h := d.hold
	if h == nil {
		d.mu.Unlock()
		return nil
	}
	d.setHeld(+1)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.setHeld(-1)
		d.mu.Unlock()
	}()
	select {
	case <-h:
		return nil
	case <-ctx.Done():
		return cancelled(ctx)
	case <-d.done:
		return closedErr()
	}
}

// setHeld changes the count of parked sends and wakes WaitHeld callers.
// d.mu must be held.
func (d *Driver) setHeld(delta int) {
	d.held += delta
	close(d.heldChg)
	d.heldChg = make(chan struct{})
}

// Hold makes every Send park before the message leaves, until Release, ctx
// done or Close. Parked sends have not left: cancelling them is safe.
func (d *Driver) Hold() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hold == nil {
		d.hold = make(chan struct{})
	}
}

// Release lets parked and future sends through.
func (d *Driver) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hold != nil {
		close(d.hold)
		d.hold = nil
	}
}

// WaitHeld blocks until at least n sends are parked by Hold, or ctx is done.
func (d *Driver) WaitHeld(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		held, ch := d.held, d.heldChg
		d.mu.Unlock()
		if held >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: waiting for %d held sends (have %d): %w", n, held, ctx.Err())
		}
	}
}

// SetDown takes the device offline: Send fails with a transient
// "device_down" error and Health reports down with detail.
func (d *Driver) SetDown(detail string) {
	if detail == "" {
		detail = "device down"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = detail
}

// SetUp brings the device back online.
func (d *Driver) SetUp() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = ""
}

// Health reports the simulated device: ready with a charging battery and a
// decent signal, or down after SetDown or Close.
func (d *Driver) Health(ctx context.Context) (drivers.Health, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Health{}, fmt.Errorf("sim health: %w", err)
	}
	signal := -71
	h := drivers.Health{
		State:     drivers.StateReady,
		Battery:   &drivers.Battery{Percent: 87, Charging: true},
		SignalDBm: &signal,
		SIM:       "ready",
		Operator:  "SIM Network",
		CheckedAt: time.Now().UTC(),
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		h.State, h.Detail = drivers.StateDown, "driver closed"
	case d.down != "":
		h.State, h.Detail, h.LastError = drivers.StateDown, d.down, d.down
	}
	return h, nil
}

// Status reports what the sim knows of an earlier send, by id or, when the
// id is unknown, by ref. Messages that never left are not found.
func (d *Driver) Status(ctx context.Context, id, ref string) (drivers.Status, error) {
	if ctx.Err() != nil {
		return drivers.Status{}, cancelled(ctx)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down != "" {
		return drivers.Status{}, drivers.Transient(CodeDeviceDown, d.down, nil)
	}
	r, ok := d.byID[id]
	if !ok || id == "" {
		r, ok = d.byRef[ref]
	}
	if !ok {
		if d.outbox == nil && createdBefore(id, d.started) {
			return drivers.Status{}, drivers.Transient("no_memory",
				"the simulated phone keeps no record of earlier runs without an outbox", nil)
		}
		return drivers.Status{State: drivers.SendNotFound}, nil
	}
	return drivers.Status{State: r.State, Ref: r.Ref, Reason: r.Reason}, nil
}

// Events returns the channel of delivery reports and inbound messages. It is
// closed by Close. The sim never blocks on it: when its buffer
// (Options.EventBuffer) is full, further events are logged and dropped, and
// counted by Dropped; delivery outcomes stay readable through Status.
func (d *Driver) Events() <-chan drivers.Event { return d.events }

// InjectInbound simulates an SMS received from from. It is dropped after
// Close, or when the events buffer is full.
func (d *Driver) InjectInbound(from, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.log.Debug("sim: inbound message", "from", logging.Phone(from))
	d.emit(drivers.Event{Kind: drivers.EventInbound, From: from, Text: text, At: time.Now().UTC()})
}

// SentCount is how many times the message with id left the phone; with
// deduplication it is never more than 1.
func (d *Driver) SentCount(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sends[id]
}

// Sent returns a copy of every message that left, oldest first.
func (d *Driver) Sent() []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Record, len(d.records))
	for i, r := range d.records {
		out[i] = *r
	}
	return out
}

// Options returns the options the driver was built with.
func (d *Driver) Options() Options { return d.opts }

// Dropped is how many events were dropped because the buffer was full.
func (d *Driver) Dropped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// Close stops pending delivery reports, fails parked and waiting sends with a
// transient "closed" error, closes the events channel and the outbox. It
// waits for report timers already firing, so no goroutine outlives it.
// Calling it again does nothing.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.done)
	for n, t := range d.timers {
		if t.Stop() {
			d.reportWG.Done()
		}
		delete(d.timers, n)
	}
	close(d.events)
	f := d.outbox
	d.outbox = nil
	d.mu.Unlock()

	d.reportWG.Wait()
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("sim %s: closing outbox: %w", d.name, err)
		}
	}
	return nil
}

func cancelled(ctx context.Context) *drivers.Error {
	return drivers.Transient(CodeCancelled, "cancelled before the message left", context.Cause(ctx))
}

func closedErr() *drivers.Error {
	return drivers.Transient(CodeClosed, "driver closed before the message left", nil)
}

// Diagnose reports the simulated phone's state as `smsgw doctor` shows it.
func (d *Driver) Diagnose(ctx context.Context) drivers.Diagnosis {
	h, err := d.Health(ctx)
	if err != nil || h.State == drivers.StateDown {
		detail := h.Detail
		if err != nil {
			detail = err.Error()
		}
		return drivers.Diagnosis{
			Checks:  []drivers.Check{{Name: "simulated phone", Status: drivers.CheckFail, Detail: detail, Fix: "the simulated phone was set down; restart smsgw"}},
			Verdict: "the simulated phone is down",
		}
	}
	return drivers.Diagnosis{
		Checks: []drivers.Check{
			{Name: "simulated phone", Status: drivers.CheckOK, Detail: "ready; nothing leaves this machine"},
			{Name: "delivery reports", Status: drivers.CheckOK, Detail: fmt.Sprintf("%v", d.opts.DeliveryReports)},
		},
		OK:      true,
		Verdict: "ready: messages are simulated, not sent to any network",
	}
}
