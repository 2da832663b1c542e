// Package adb is the driver for an Android phone on USB, reached through the
// adb server's host protocol (drivers/adb/adbwire). It has two modes:
//
//   - forward: an SMS gateway app on the phone serves HTTP; the driver keeps
//     an adb forward from a loopback port to it and hands sends, status
//     queries, health and events to a Gateway client speaking the app's
//     protocol over that forward.
//   - isms: no app; `service call isms` with the argument layout for the
//     phone's Android version. Android reports only that it took the
//     message: no delivery reports and no status queries.
//
// The driver watches its phone by polling and by the server's tracking
// stream: a phone that drops, comes back or reboots is prepared again
// (booted, SIM ready, forward re-created) before the next send.
package adb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
	"smsgw/drivers/smsservice"
)

// Mode selects how the driver sends.
type Mode string

// Modes.
const (
	ModeForward Mode = "forward"
	ModeISMS    Mode = "isms"
)

// DefaultPollInterval is how often the phone is checked when
// Options.PollInterval is zero.
const DefaultPollInterval = 5 * time.Second

// Reason codes of the errors the driver returns itself.
const (
	CodeClosed         = "closed"
	CodeCancelled      = "cancelled"
	CodeExpired        = "expired"
	CodeNoServer       = "adb_no_server"
	CodeNoDevice       = "adb_no_device"
	CodeUnauthorized   = "adb_unauthorized"
	CodeOffline        = "adb_offline"
	CodeBooting        = "phone_booting"
	CodeSIMNotReady    = "sim_not_ready"
	CodeForward        = "adb_forward_failed"
	CodeAppUnreachable = "app_unreachable"
	CodeDevice         = "adb_device_error"
	CodeMultipart      = "isms_multipart"
	CodeUnsupported    = "isms_unsupported_android"
	CodeISMSFailed     = "isms_call_failed"
	CodeISMSDenied     = "isms_denied"
	CodeISMSException  = "isms_exception"
	CodeISMSNoAnswer   = "isms_no_answer"
)

// Gateway is the client of the phone's SMS gateway app in forward mode. It
// may also implement drivers.StatusQuerier, drivers.HealthChecker and
// drivers.EventSource; the driver passes those on.
type Gateway interface {
	Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error)
	Close() error
}

// GatewayFactory builds the Gateway for an app reachable at baseURL
// ("http://127.0.0.1:<forwarded port>").
type GatewayFactory func(baseURL string) (Gateway, error)

// Pacing is the driver's configured send rate, used to warn when it would
// exceed Android's own outgoing SMS limit.
type Pacing struct {
	Every  time.Duration
	Count  int
	Window time.Duration
}

// Options configures the driver.
type Options struct {
	// Serial chooses the phone; empty means the only device attached (the
	// configuration always names one).
	Serial string
	Mode   Mode
	// Server is the adb server address; empty means adbwire.DefaultAddr.
	Server string
	// ADBPath, when set, is the adb binary used to start a server that is
	// not running, with HOME set to KeyDir so the phone's authorisation
	// (the key in KeyDir/.android) survives restarts.
	ADBPath string
	KeyDir  string
	// RemotePort is the app's port on the phone; LocalPort the loopback
	// port of the forward (0: chosen by adb once, then kept).
	RemotePort int
	LocalPort  int
	// Gateway builds the app client (forward mode). Required in forward mode.
	Gateway GatewayFactory
	// AppPackage is the gateway app's package, for the Doze check.
	AppPackage string
	// SIMSlot is the slot whose SIM state and operator are checked (0-based).
	SIMSlot int
	// Subscription is the subscription id isms sends with; nil means the
	// phone's default.
	Subscription *int
	// Package is the calling package isms passes; empty means the
	// default for the Android version (see ismsCommand).
	Package string
	// Pacing is the configured send rate.
	Pacing       Pacing
	PollInterval time.Duration
}

// Driver is the adb driver. New returns it wrapped so that only the
// capabilities of its mode are visible.
type Driver struct {
	name string
	opts Options
	log  *slog.Logger

	client *adbwire.Client
	dev    *adbwire.Device

	prepMu sync.Mutex // serialises prepare

	mu          sync.Mutex
	ready       bool
	sdk         int
	bootID      string
	forwardPort int
	lastErr     string
	gw          Gateway
	serverTried time.Time

	base      context.Context // cancelled by Close
	stop      context.CancelFunc
	events    chan drivers.Event
	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // monitor and tracker
	pumpWG    sync.WaitGroup // the gateway event pump
}

// forwardDriver is the driver in forward mode: it answers status queries
// and passes on the app's events.
type forwardDriver struct{ *Driver }

// Status asks the gateway app about an earlier send.
func (f forwardDriver) Status(ctx context.Context, id, ref string) (drivers.Status, error) {
	gw, err := f.gateway(ctx)
	if err != nil {
		return drivers.Status{}, err
	}
	sq, ok := gw.(drivers.StatusQuerier)
	if !ok {
		return drivers.Status{}, errors.New("the gateway app cannot report status")
	}
	return sq.Status(ctx, id, ref)
}

// Events returns the gateway app's delivery reports and inbound messages.
func (f forwardDriver) Events() <-chan drivers.Event { return f.events }

// New returns the driver for opts. It does no I/O: the phone is looked for
// in the background and before the first send, so a driver opened while the
// phone is away still diagnoses and reports health.
func New(name string, opts Options, log *slog.Logger) (drivers.Driver, error) {
	switch opts.Mode {
	case ModeForward:
		if opts.Gateway == nil {
			return nil, errors.New("adb: forward mode needs a gateway client")
		}
		if opts.RemotePort <= 0 || opts.RemotePort > 65535 {
			return nil, fmt.Errorf("adb: remote port %d out of range", opts.RemotePort)
		}
	case ModeISMS:
	default:
		return nil, fmt.Errorf("adb: unknown mode %q", opts.Mode)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := adbwire.New(opts.Server)
	base, stop := context.WithCancel(context.Background())
	d := &Driver{
		base:   base,
		stop:   stop,
		name:   name,
		opts:   opts,
		log:    log.With("driver", name, "serial", opts.Serial),
		client: c,
		dev:    c.Device(opts.Serial),
		events: make(chan drivers.Event, 256),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	d.wg.Add(2)
	go d.monitor()
	go d.track()
	if opts.Mode == ModeForward {
		return forwardDriver{d}, nil
	}
	return d, nil
}

// Close stops watching the phone, removes the driver's forward and closes
// the gateway client. The adb server is left alone. Close is idempotent.
func (d *Driver) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.done)
		d.stop()
		d.wg.Wait()
		d.mu.Lock()
		gw, port := d.gw, d.forwardPort
		d.gw = nil
		d.mu.Unlock()
		if port != 0 {
			// The forward is ours; the server and other forwards are not.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = d.dev.KillForward(ctx, "tcp:"+strconv.Itoa(port))
			cancel()
		}
		if gw != nil {
			err = gw.Close()
		}
		d.pumpWG.Wait() // the pump ends once done is closed
		close(d.events)
	})
	return err
}

func (d *Driver) isClosed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Send hands m to the phone.
func (d *Driver) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	if d.isClosed() {
		return drivers.Receipt{}, drivers.Transient(CodeClosed, "the driver is closed", nil)
	}
	if err := ctx.Err(); err != nil {
		return drivers.Receipt{}, drivers.Transient(CodeCancelled, "", err)
	}
	if !m.ExpiresAt.IsZero() && !time.Now().Before(m.ExpiresAt) {
		return drivers.Receipt{}, drivers.Permanent(CodeExpired, "the message expired before it was handed to the phone", nil)
	}
	if err := d.ensureReady(ctx); err != nil {
		return drivers.Receipt{}, err
	}
	if !m.ExpiresAt.IsZero() && !time.Now().Before(m.ExpiresAt) {
		return drivers.Receipt{}, drivers.Permanent(CodeExpired, "the message expired while the phone was being prepared", nil)
	}
	d.log.Debug("send", "id", m.ID, "to", logging.Phone(m.To), "mode", d.opts.Mode)
	if d.opts.Mode == ModeISMS {
		return d.sendISMS(ctx, m)
	}
	gw, err := d.gateway(ctx)
	if err != nil {
		return drivers.Receipt{}, err
	}
	r, err := gw.Send(ctx, m)
	if err != nil {
		switch de := drivers.Classify(err); {
		// The app may have gone away: the connection dropped after the
		// request was written, or could not be made.
		case de.Code == smsservice.CodeConnLost, de.Code == smsservice.CodeUnreachable:
			// The app may have gone away: check it again before the next
			// send writes anything to it.
			d.markAppLost("the gateway app dropped a connection")
			d.poke()
		case de.Class == drivers.ClassTransient:
			d.poke() // the forward may be gone: check the phone now
		}
	}
	return r, err
}

// gateway returns the gateway client, preparing the phone if needed.
func (d *Driver) gateway(ctx context.Context) (Gateway, error) {
	if err := d.ensureReady(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gw == nil {
		return nil, drivers.Transient(CodeClosed, "the driver is closed", nil)
	}
	return d.gw, nil
}

// poke asks the monitor to check the phone now.
func (d *Driver) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}
