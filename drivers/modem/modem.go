// Package modem is the driver for a GSM modem driven with AT commands in
// PDU mode over a serial port. The AT engine is in drivers/modem/at, the PDU
// codec in drivers/modem/pdu and a simulated modem in drivers/modem/modemsim.
//
// A supervisor goroutine owns the connection's life: it opens the port,
// runs bring-up (echo off, numeric errors, SIM PIN, PDU mode, SMSC check,
// new-message indications, registration), probes the modem, and climbs a
// recovery ladder when it stops answering: ESC and AT, reopen the port and
// run bring-up again, AT+CFUN=1,1, then out of service while it keeps
// trying to reopen the port, so that a modem unplugged and plugged back at
// the same path is picked up again. A PIN the SIM rejects stops the driver
// for good: retrying could lock the SIM.
package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
	"smsgw/drivers/modem/at"
	"smsgw/drivers/modem/pdu"
)

// Defaults of the Options durations.
const (
	DefaultCommandTimeout      = 5 * time.Second
	DefaultPromptTimeout       = 10 * time.Second
	DefaultSendTimeout         = 120 * time.Second
	DefaultRegistrationTimeout = 60 * time.Second
	DefaultReportWindow        = 72 * time.Hour
	DefaultProbeInterval       = 30 * time.Second
	DefaultRetryInterval       = 5 * time.Second
	DefaultMaxFailures         = 5
	DefaultEventBuffer         = 256
)

// Options configures a modem driver.
type Options struct {
	// Name is the driver's configured name, for logs.
	Name string
	// Port names the device in messages (e.g. its path).
	Port string
	// Open opens the port. It is called again to reopen it. Required.
	Open func(ctx context.Context) (io.ReadWriteCloser, error)
	// PIN returns the SIM PIN when the SIM asks for one; nil means none is
	// configured.
	PIN func() (string, error)
	// SMSC, when set, is put in every PDU instead of the modem's own.
	SMSC string
	// DeliveryReports requests a status report for every part.
	DeliveryReports bool
	// CommandTimeout bounds short commands; PromptTimeout the wait for the
	// SMS prompt; SendTimeout the wait for +CMGS after the PDU.
	CommandTimeout time.Duration
	PromptTimeout  time.Duration
	SendTimeout    time.Duration
	// RegistrationTimeout bounds the wait for the network at bring-up.
	RegistrationTimeout time.Duration
	// Init are extra AT commands (without "AT") run at the end of bring-up.
	Init []string
	// ReportWindow is how long after a send its status report is matched.
	ReportWindow time.Duration
	// ProbeInterval is how often an idle modem is checked.
	ProbeInterval time.Duration
	// RetryInterval is the wait between reconnection attempts.
	RetryInterval time.Duration
	// MaxFailures is how many recovery attempts in a row fail before the
	// modem is declared out of service.
	MaxFailures int
	// EventBuffer is the capacity of the events channel.
	EventBuffer int
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.CommandTimeout, DefaultCommandTimeout)
	def(&o.PromptTimeout, DefaultPromptTimeout)
	def(&o.SendTimeout, DefaultSendTimeout)
	def(&o.RegistrationTimeout, DefaultRegistrationTimeout)
	def(&o.ReportWindow, DefaultReportWindow)
	def(&o.ProbeInterval, DefaultProbeInterval)
	def(&o.RetryInterval, DefaultRetryInterval)
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = DefaultEventBuffer
	}
}

// errStopped marks bring-up failures that need a person (a PIN the SIM
// refused, a SIM asking for its PUK): the driver stops trying.
var errStopped = errors.New("stopped")

// Driver is a modem driver. It implements drivers.Driver,
// drivers.HealthChecker, drivers.StatusQuerier, drivers.EventSource and
// drivers.Diagnoser.
type Driver struct {
	opts   Options
	log    *slog.Logger
	events chan drivers.Event
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sendMu chan struct{} // one send at a time
	kick   chan struct{} // asks the supervisor to probe now

	closeOnce sync.Once
	closed    chan struct{}

	mu        sync.Mutex
	conn      *at.Conn
	stopped   error // set when bring-up needs a person
	status    deviceStatus
	records   map[string]*record     // by smsgw message id
	reports   map[byte][]*partReport // by message reference
	early     []early                // reports that came before their +CMGS
	concatRef byte
	inbound   map[string]*partial // multipart messages being received
}

// deviceStatus is what the driver last learned about the modem.
type deviceStatus struct {
	sim        string
	reg        at.Registration
	regKnown   bool
	signal     *int
	operator   string
	smsc       string
	lastError  string
	failures   int
	outOfOrder bool
	checkedAt  time.Time
}

// record is what the driver knows of one message.
type record struct {
	to        string
	parts     int
	refs      []int // message references of the parts that left
	concatRef byte
	state     drivers.SendState
	done      []bool // per part: a final report arrived
	failed    string // reason of a failed report
	// heldFailure is set when a part's failure report came while later
	// parts were still being submitted; Send reports it once every
	// reference is known, so the event carries the whole receipt.
	heldFailure bool
	// uncertain is set when a part was handed to the modem and no result
	// came back: it may have left, so Status must not say not_found.
	uncertain bool
}

// partReport waits for the status report of one part.
type partReport struct {
	id     string
	part   int
	to     string
	sentAt time.Time
}

// partial collects the parts of an inbound concatenated message.
type partial struct {
	parts   map[int]string
	total   int
	started time.Time
}

// New starts a modem driver and waits for its first connection attempt.
// It fails only when the configuration is unusable: no Open function, or a
// SIM that refused the configured PIN. A modem that is absent or silent
// leaves the driver down while it keeps trying.
func New(ctx context.Context, opts Options, log *slog.Logger) (*Driver, error) {
	if opts.Open == nil {
		return nil, errors.New("modem: no port to open")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.setDefaults()
	dctx, cancel := context.WithCancel(context.Background())
	d := &Driver{
		opts:    opts,
		log:     log.With("driver", opts.Name),
		events:  make(chan drivers.Event, opts.EventBuffer),
		ctx:     dctx,
		cancel:  cancel,
		sendMu:  make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		closed:  make(chan struct{}),
		records: make(map[string]*record),
		reports: make(map[byte][]*partReport),
		inbound: make(map[string]*partial),
	}
	first := make(chan struct{})
	d.wg.Add(1)
	go d.supervise(first)
	select {
	case <-first:
	case <-ctx.Done():
	}
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped != nil {
		_ = d.Close()
		return nil, stopped
	}
	return d, nil
}

// Close stops the driver and closes its port and events channel.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		close(d.closed)
		d.cancel()
		d.mu.Lock()
		c := d.conn
		d.mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
		d.wg.Wait()
		close(d.events)
	})
	return nil
}

// Events returns delivery reports and inbound messages.
func (d *Driver) Events() <-chan drivers.Event { return d.events }

func (d *Driver) emit(e drivers.Event) {
	select {
	case d.events <- e:
	default:
		d.log.Warn("modem: event dropped, buffer full", "kind", e.Kind, "id", e.ID)
	}
}

// current returns the live connection, or nil.
func (d *Driver) current() *at.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.liveConn()
}

// liveConn returns d.conn unless it has ended. d.mu must be held.
func (d *Driver) liveConn() *at.Conn {
	if d.conn == nil {
		return nil
	}
	select {
	case <-d.conn.Done():
		return nil
	default:
		return d.conn
	}
}

func (d *Driver) setLastError(err error) {
	d.mu.Lock()
	d.status.lastError = err.Error()
	d.mu.Unlock()
}

// supervise connects, watches and recovers the modem until Close.
func (d *Driver) supervise(first chan struct{}) {
	defer d.wg.Done()
	signal := func() {
		if first != nil {
			close(first)
			first = nil
		}
	}
	defer signal()
	failures := 0
	for {
		if d.ctx.Err() != nil {
			return
		}
		c, err := d.connect(failures)
		if err == nil {
			failures = 0
			d.mu.Lock()
			d.status.failures, d.status.outOfOrder = 0, false
			d.mu.Unlock()
			signal()
			d.watch(c)
			d.mu.Lock()
			d.conn = nil
			d.mu.Unlock()
			_ = c.Close()
			continue
		}
		if errors.Is(err, errStopped) {
			d.log.Error("modem: stopped, needs attention", "err", err)
			d.mu.Lock()
			d.stopped = err
			d.status.lastError = err.Error()
			d.mu.Unlock()
			signal()
			return
		}
		failures++
		d.mu.Lock()
		d.status.lastError = err.Error()
		d.status.failures = failures
		if failures >= d.opts.MaxFailures && !d.status.outOfOrder {
			d.status.outOfOrder = true
			d.log.Error("modem: out of service", "failures", failures, "err", err)
		}
		d.mu.Unlock()
		d.log.Warn("modem: connection failed", "attempt", failures, "err", err)
		signal()
		wait := d.opts.RetryInterval
		if failures >= d.opts.MaxFailures {
			wait *= 4
		}
		select {
		case <-time.After(wait):
		case <-d.ctx.Done():
			return
		}
	}
}

// connect opens the port and runs bring-up. From the third failure in a
// row it also resets the modem (AT+CFUN=1,1) when bring-up fails.
func (d *Driver) connect(failures int) (*at.Conn, error) {
	port, err := d.opts.Open(d.ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.opts.Port, err)
	}
	c := at.New(port, d.log)
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	d.wg.Add(1)
	go d.handleURCs(c)
	if err := d.bringUp(d.ctx, c); err != nil {
		if failures >= 2 && !errors.Is(err, errStopped) {
			d.log.Warn("modem: resetting with AT+CFUN=1,1")
			_, _ = c.Command(d.ctx, "+CFUN=1,1", d.opts.CommandTimeout)
		}
		d.mu.Lock()
		d.conn = nil
		d.mu.Unlock()
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// watch probes the modem until its connection ends or a probe fails and
// ESC plus AT does not bring it back.
func (d *Driver) watch(c *at.Conn) {
	t := time.NewTicker(d.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-c.Done():
			d.log.Warn("modem: port closed", "err", c.Err())
			d.setLastError(fmt.Errorf("port closed: %w", c.Err()))
			return
		case <-t.C:
		case <-d.kick:
		}
		if d.probe(c) == nil {
			d.refresh(d.ctx, c)
			continue
		}
		d.log.Warn("modem: not answering, sending ESC")
		_ = c.Escape(d.ctx, 100*time.Millisecond)
		if err := d.probe(c); err != nil {
			d.setLastError(fmt.Errorf("modem not answering: %w", err))
			d.log.Warn("modem: still not answering, reopening the port")
			return
		}
	}
}

func (d *Driver) probe(c *at.Conn) error {
	_, err := c.Command(d.ctx, "", d.opts.CommandTimeout)
	return err
}

// requestProbe asks the supervisor to check the modem now.
func (d *Driver) requestProbe() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// bringUp prepares a freshly opened modem for sending and receiving.
func (d *Driver) bringUp(ctx context.Context, c *at.Conn) error {
	to := d.opts.CommandTimeout
	_ = c.Escape(ctx, 100*time.Millisecond)
	var err error
	for range 3 {
		if _, err = c.Command(ctx, "", to); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("modem does not answer AT: %w", err)
	}
	d.optional(ctx, c, "E0")
	d.optional(ctx, c, "+CMEE=1")
	if err := d.unlockSIM(ctx, c); err != nil {
		return err
	}
	if _, err := c.Command(ctx, "+CMGF=0", to); err != nil {
		return fmt.Errorf("modem refuses PDU mode (AT+CMGF=0): %w", err)
	}
	smsc := ""
	if info, err := c.Command(ctx, "+CSCA?", to); err == nil {
		for _, l := range info {
			if s, err := at.ParseCSCA(l); err == nil {
				smsc = s
			}
		}
	}
	d.mu.Lock()
	d.status.smsc = smsc
	d.mu.Unlock()
	if smsc == "" && d.opts.SMSC == "" {
		d.log.Warn("modem: no SMSC number on the SIM and none configured; sends will fail with +CMS ERROR: 330")
	}
	if !d.optional(ctx, c, "+CNMI=2,1,0,2,0") {
		d.optional(ctx, c, "+CNMI=1,1,0,2,0")
	}
	// Messages and reports stored while nobody listened (smsgw down, the
	// port closed) got their +CMTI/+CDSI then; read them now.
	d.readAllStored(ctx, c)
	for _, cmd := range d.opts.Init {
		d.optional(ctx, c, cmd)
	}
	return d.waitRegistered(ctx, c)
}

// optional runs a command a modem may refuse, and reports whether it took it.
func (d *Driver) optional(ctx context.Context, c *at.Conn, cmd string) bool {
	if _, err := c.Command(ctx, cmd, d.opts.CommandTimeout); err != nil {
		d.log.Debug("modem: optional command refused", "cmd", "AT"+cmd, "err", err)
		return false
	}
	return true
}

// unlockSIM checks the SIM and enters the PIN once if asked. A rejected
// PIN is never retried.
func (d *Driver) unlockSIM(ctx context.Context, c *at.Conn) error {
	state, err := d.simState(ctx, c)
	if err != nil {
		return err
	}
	switch state {
	case "READY":
		return nil
	case "SIM PIN":
	case "SIM PUK", "SIM PUK2":
		return fmt.Errorf("%w: the SIM is locked and asks for its PUK; unlock it in a phone", errStopped)
	default:
		return fmt.Errorf("SIM asks for %q, which smsgw cannot give", state)
	}
	if d.opts.PIN == nil {
		return fmt.Errorf("%w: the SIM asks for a PIN and no pin_file is configured", errStopped)
	}
	pin, err := d.opts.PIN()
	if err != nil {
		return fmt.Errorf("%w: read the PIN: %w", errStopped, err)
	}
	if _, err := c.Command(ctx, `+CPIN="`+pin+`"`, 3*d.opts.CommandTimeout); err != nil {
		var ae *at.Error
		if errors.As(err, &ae) && ae.Kind != at.KindError && (ae.Code == 16 || ae.Code == 12) {
			return fmt.Errorf("%w: the SIM rejected the PIN from pin_file; smsgw will not try it again, since more wrong tries lock the SIM", errStopped)
		}
		return fmt.Errorf("enter the PIN: %w", err)
	}
	for range 10 {
		state, err = d.simState(ctx, c)
		if err == nil && state == "READY" {
			return nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("SIM not ready after the PIN: %q", state)
}

func (d *Driver) simState(ctx context.Context, c *at.Conn) (string, error) {
	info, err := c.Command(ctx, "+CPIN?", d.opts.CommandTimeout)
	state := ""
	if err == nil {
		for _, l := range info {
			if s, perr := at.ParseCPIN(l); perr == nil {
				state = s
			}
		}
	}
	var ae *at.Error
	switch {
	case errors.As(err, &ae) && ae.Kind == at.KindCME && ae.Code == 10:
		state = "not inserted"
	case errors.As(err, &ae) && ae.Kind == at.KindCME && ae.Code == 13:
		state = "failure"
	case errors.As(err, &ae) && ae.Kind == at.KindCME && ae.Code == 14:
		state = "busy"
	case err != nil:
		return "", fmt.Errorf("read the SIM state: %w", err)
	}
	d.mu.Lock()
	d.status.sim = simText(state)
	d.mu.Unlock()
	switch state {
	case "not inserted", "failure":
		return "", fmt.Errorf("SIM %s", state)
	case "busy":
		return "", errors.New("SIM busy")
	}
	return state, nil
}

func simText(state string) string {
	switch state {
	case "READY":
		return "ready"
	case "SIM PIN":
		return "PIN required"
	case "SIM PUK", "SIM PUK2":
		return "PUK required"
	}
	return strings.ToLower(state)
}

// waitRegistered polls the registration until the modem is on a network
// or RegistrationTimeout passes. Not being registered does not fail
// bring-up: the modem may find the network later, and sends meanwhile fail
// as transient.
func (d *Driver) waitRegistered(ctx context.Context, c *at.Conn) error {
	deadline := time.Now().Add(d.opts.RegistrationTimeout)
	for {
		d.refresh(ctx, c)
		d.mu.Lock()
		reg, known := d.status.reg, d.status.regKnown
		d.mu.Unlock()
		if reg.Registered() || !known {
			return nil
		}
		if reg == at.RegDenied {
			d.log.Warn("modem: network registration denied")
			return nil
		}
		if time.Now().After(deadline) {
			d.log.Warn("modem: not registered yet", "state", reg.String())
			return nil
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refresh reads registration, signal and operator.
func (d *Driver) refresh(ctx context.Context, c *at.Conn) {
	to := d.opts.CommandTimeout
	best, known := at.RegUnknown, false
	for _, cmd := range []string{"+CREG?", "+CGREG?", "+CEREG?"} {
		info, err := c.Command(ctx, cmd, to)
		if err != nil {
			continue
		}
		for _, l := range info {
			r, err := at.ParseRegistration(l)
			if err != nil {
				continue
			}
			if !known || r.Registered() || (!best.Registered() && r == at.RegDenied) {
				best, known = r, true
			}
		}
		if best.Registered() {
			break
		}
	}
	var signal *int
	if info, err := c.Command(ctx, "+CSQ", to); err == nil {
		for _, l := range info {
			if dbm, ok, err := at.ParseCSQ(l); err == nil && ok {
				signal = &dbm
			}
		}
	}
	operator := ""
	if info, err := c.Command(ctx, "+COPS?", to); err == nil {
		for _, l := range info {
			if op, err := at.ParseCOPS(l); err == nil {
				operator = op
			}
		}
	}
	d.mu.Lock()
	d.status.reg, d.status.regKnown = best, known
	d.status.signal = signal
	d.status.operator = operator
	d.status.checkedAt = time.Now()
	d.mu.Unlock()
}

// acquire takes the send slot or gives up when ctx ends.
func (d *Driver) acquire(ctx context.Context) error {
	select {
	case d.sendMu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.closed:
		return errors.New("driver closed")
	}
}

// Send hands m to the modem part by part. Parts that left in an earlier
// attempt are not sent again.
func (d *Driver) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	select {
	case <-d.closed:
		return drivers.Receipt{}, drivers.Transient(CodeClosed, "driver closed", nil)
	default:
	}
	if err := ctx.Err(); err != nil {
		return drivers.Receipt{}, drivers.Transient(CodeCancelled, "cancelled before the message left", err)
	}
	if !m.ExpiresAt.IsZero() && !time.Now().Before(m.ExpiresAt) {
		d.remember(m.ID, m.To)
		return drivers.Receipt{}, drivers.Permanent(CodeExpired, "validity passed before sending", nil)
	}
	if err := d.acquire(ctx); err != nil {
		return drivers.Receipt{}, drivers.Transient(CodeCancelled, "cancelled while waiting for the modem", err)
	}
	defer func() { <-d.sendMu }()

	rec := d.remember(m.ID, m.To)
	d.mu.Lock()
	if rec.state == drivers.SendSent || rec.state == drivers.SendDelivered {
		r := d.receipt(rec)
		d.mu.Unlock()
		return r, nil
	}
	c, stopped, reg, known := d.liveConn(), d.stopped, d.status.reg, d.status.regKnown
	if rec.parts == 0 {
		rec.concatRef = d.concatRef
		d.concatRef++
	}
	concatRef := rec.concatRef
	d.mu.Unlock()
	switch {
	case stopped != nil:
		e := drivers.Transient(CodeSIMStopped, stopped.Error(), nil)
		e.RetryAfter = configRetry
		return drivers.Receipt{}, e
	case c == nil:
		e := drivers.Transient(CodeModemDown, "modem not connected", nil)
		e.RetryAfter = d.opts.RetryInterval
		return drivers.Receipt{}, e
	case known && !reg.Registered():
		e := drivers.Transient(CodeNoNetwork, reg.String(), nil)
		e.RetryAfter = time.Minute
		return drivers.Receipt{}, e
	}

	var validity time.Duration
	if !m.ExpiresAt.IsZero() {
		validity = time.Until(m.ExpiresAt)
	}
	pdus, err := pdu.Submit{SMSC: d.opts.SMSC, To: m.To, Text: m.Text, StatusReport: d.opts.DeliveryReports, Validity: validity, Ref: concatRef}.Encode()
	if err != nil {
		return drivers.Receipt{}, drivers.Permanent(CodeBadMessage, "cannot encode the message", err)
	}
	d.mu.Lock()
	if rec.parts != 0 && rec.parts != len(pdus) && len(rec.refs) > 0 {
		d.mu.Unlock()
		return drivers.Receipt{}, drivers.Uncertain(CodeBadMessage, "the text changed between attempts after some parts left", nil)
	}
	if len(rec.done) != len(pdus) {
		rec.done = make([]bool, len(pdus))
	}
	rec.parts = len(pdus)
	start := len(rec.refs)
	d.mu.Unlock()

	for i := start; i < len(pdus); i++ {
		p := pdus[i]
		handedAt := time.Now()
		info, submitted, err := c.SendPDU(ctx, "+CMGS="+strconv.Itoa(p.TPDULen), p.Hex, d.opts.PromptTimeout, d.opts.SendTimeout)
		if err != nil {
			de := classify(err, submitted)
			d.mu.Lock()
			if de.Class == drivers.ClassUncertain {
				rec.uncertain = true
			}
			if de.Class == drivers.ClassTransient && len(rec.refs) > 0 {
				// Earlier parts left: only this driver can send the rest
				// without repeating them, so the retry must come back here.
				de.SameDevice = true
			}
			d.mu.Unlock()
			d.setLastError(de)
			d.log.Warn("modem: send failed", "id", m.ID, "to", logging.Phone(m.To), "part", i+1, "parts", len(pdus), "class", de.Class, "code", de.Code)
			if errors.Is(err, at.ErrTimeout) || needsBringUp(err) {
				d.requestReconnect(c, err)
			}
			return drivers.Receipt{}, de
		}
		mr := -1
		for _, l := range info {
			if v, err := at.ParseCMGS(l); err == nil {
				mr = v
			}
		}
		d.mu.Lock()
		rec.refs = append(rec.refs, mr)
		d.mu.Unlock()
		if d.opts.DeliveryReports && mr >= 0 {
			d.expectReport(&partReport{id: m.ID, part: i, to: m.To, sentAt: time.Now()}, byte(mr), handedAt)
		}
	}
	d.mu.Lock()
	if rec.state == drivers.SendNotFound {
		rec.state = drivers.SendSent
	}
	r := d.receipt(rec)
	if rec.heldFailure {
		rec.heldFailure = false
		d.emit(drivers.Event{Kind: drivers.EventDelivery, ID: m.ID, Ref: r.Ref, Delivered: false, Reason: rec.failed})
	}
	d.mu.Unlock()
	d.log.Info("modem: sent", "id", m.ID, "to", logging.Phone(m.To), "parts", r.Parts, "ref", r.Ref)
	return r, nil
}

// requestReconnect handles a send that found the modem silent or set up
// wrongly: a timeout asks for a probe (the ladder starts with ESC and AT),
// a lost set-up closes the connection so that bring-up runs again.
func (d *Driver) requestReconnect(c *at.Conn, err error) {
	if needsBringUp(err) {
		_ = c.Close()
		return
	}
	d.requestProbe()
}

// receipt builds the receipt of a sent record. d.mu must be held.
func (d *Driver) receipt(rec *record) drivers.Receipt {
	refs := make([]string, len(rec.refs))
	for i, r := range rec.refs {
		refs[i] = strconv.Itoa(r)
	}
	return drivers.Receipt{Ref: strings.Join(refs, ","), Parts: rec.parts, DeliveryReports: d.opts.DeliveryReports}
}

// remember returns the record of id, creating it.
func (d *Driver) remember(id, to string) *record {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.records[id]
	if !ok {
		rec = &record{to: to, state: drivers.SendNotFound}
		d.records[id] = rec
	}
	return rec
}

// Status reports what the driver knows of an earlier send. It keeps no
// memory across restarts: for a message it never saw it returns an error,
// so that the dispatcher does not resend blindly.
func (d *Driver) Status(_ context.Context, id, ref string) (drivers.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.records[id]
	if !ok {
		return drivers.Status{}, fmt.Errorf("modem: no record of message %s in this run", id)
	}
	st := drivers.Status{State: rec.state, Ref: d.receipt(rec).Ref, Reason: rec.failed}
	if rec.state == drivers.SendNotFound && rec.uncertain {
		// A part was handed to the modem and no answer came: it may have
		// left, so neither "not found" nor "pending" would be honest.
		return drivers.Status{}, fmt.Errorf("modem: message %s may have left: a part was handed to the modem and no result came back", id)
	}
	if rec.state == drivers.SendNotFound && len(rec.refs) > 0 {
		st.State = drivers.SendPending // some parts left, the rest will follow on retry
	}
	return st, nil
}
