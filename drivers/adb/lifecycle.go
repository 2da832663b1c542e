package adb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
)

// serverRetry is the least time between two attempts to start a server.
const serverRetry = 30 * time.Second

// isReady reports whether the phone was prepared and not lost since.
func (d *Driver) isReady() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}

// ensureReady prepares the phone unless it is ready, and returns a
// classified error saying why it cannot send when it is not.
func (d *Driver) ensureReady(ctx context.Context) error {
	if d.isReady() {
		return nil
	}
	return d.prepare(ctx)
}

// markLost records that the phone went away or rebooted: forwards are gone
// and features must be asked again.
func (d *Driver) markLost(why string) {
	d.mu.Lock()
	was := d.ready
	d.ready = false
	d.lastErr = why
	d.mu.Unlock()
	d.dev.Forget()
	if was {
		d.log.Warn("phone lost", "reason", why)
	}
}

// notReady classifies why the phone cannot send now. Nothing was sent, so
// every such error is transient, with the poll interval as the retry floor.
func (d *Driver) notReady(code, detail string, err error) error {
	e := drivers.Transient(code, detail, err)
	e.RetryAfter = d.opts.PollInterval
	d.mu.Lock()
	d.lastErr = e.Error()
	d.mu.Unlock()
	return e
}

// deviceError classifies an error of the adb server or device.
func (d *Driver) deviceError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return drivers.Transient(CodeCancelled, "", ctx.Err())
	case errors.Is(err, adbwire.ErrNoServer):
		return d.notReady(CodeNoServer, "the adb server is not running", err)
	case errors.Is(err, adbwire.ErrUnauthorized):
		return d.notReady(CodeUnauthorized, "the phone has not authorised this computer", err)
	case errors.Is(err, adbwire.ErrOffline):
		return d.notReady(CodeOffline, "the phone is offline", err)
	case errors.Is(err, adbwire.ErrDeviceNotFound):
		return d.notReady(CodeNoDevice, "the phone is not connected", err)
	}
	return d.notReady(CodeDevice, "", err)
}

// prepare brings the phone to a state where it can send: online, booted,
// SIM ready, and in forward mode with its forward in place.
func (d *Driver) prepare(ctx context.Context) error {
	d.prepMu.Lock()
	defer d.prepMu.Unlock()
	if d.isReady() {
		return nil
	}
	state, err := d.dev.State(ctx)
	if errors.Is(err, adbwire.ErrNoServer) && d.startServer(ctx) {
		state, err = d.dev.State(ctx)
	}
	if err != nil {
		return d.deviceError(ctx, err)
	}
	switch state {
	case "device":
	case "unauthorized", "authorizing":
		return d.notReady(CodeUnauthorized, "unlock the phone and accept the USB debugging prompt", nil)
	default:
		return d.notReady(CodeOffline, "the phone is "+state, nil)
	}
	props, err := d.getprop(ctx)
	if err != nil {
		return d.deviceError(ctx, err)
	}
	if props["sys.boot_completed"] != "1" {
		return d.notReady(CodeBooting, "the phone is still booting", nil)
	}
	if sim := simState(props, d.opts.SIMSlot); !simUsable(sim) {
		return d.notReady(CodeSIMNotReady, "SIM state "+orUnknown(sim), nil)
	}
	sdk, _ := strconv.Atoi(props["ro.build.version.sdk"])
	bootID, err := d.readBootID(ctx)
	if err != nil {
		return d.deviceError(ctx, err)
	}
	if d.opts.Mode == ModeForward {
		if err := d.setupForward(ctx); err != nil {
			return err
		}
		// The forward exists even when nothing listens behind it: adb
		// accepts the connection and drops it once the phone refuses, which
		// after a written request looks like a lost answer (uncertain).
		// Only an app that answers makes the phone ready.
		if err := d.probeApp(ctx); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.ready, d.sdk, d.bootID, d.lastErr = true, sdk, bootID, ""
	d.mu.Unlock()
	d.log.Info("phone ready", "sdk", sdk, "mode", d.opts.Mode)
	return nil
}

// getprop reads every system property.
func (d *Driver) getprop(ctx context.Context) (map[string]string, error) {
	res, err := d.dev.Shell(ctx, "getprop")
	if err != nil {
		return nil, err
	}
	return ParseGetprop(string(res.Stdout)), nil
}

// readBootID reads the kernel's boot id, which changes on every boot: a cheap
// end-to-end ping that also notices a reboot the polls missed.
func (d *Driver) readBootID(ctx context.Context) (string, error) {
	res, err := d.dev.Shell(ctx, "cat /proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}

// setupForward (re-)creates the forward to the gateway app, keeping the
// local port it had, and builds the gateway client the first time.
func (d *Driver) setupForward(ctx context.Context) error {
	d.mu.Lock()
	local := d.forwardPort
	d.mu.Unlock()
	if local == 0 {
		local = d.opts.LocalPort
	}
	port, err := d.dev.Forward(ctx, "tcp:"+strconv.Itoa(local), "tcp:"+strconv.Itoa(d.opts.RemotePort))
	if err != nil {
		if ctx.Err() != nil {
			return drivers.Transient(CodeCancelled, "", ctx.Err())
		}
		return d.notReady(CodeForward, fmt.Sprintf("forward tcp:%d to the phone's port %d", local, d.opts.RemotePort), err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forwardPort = port
	if d.gw != nil || d.isClosed() {
		return nil
	}
	gw, err := d.opts.Gateway(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		return drivers.Permanent(CodeForward, "build the gateway client", err)
	}
	d.gw = gw
	if es, ok := gw.(drivers.EventSource); ok {
		d.pumpWG.Add(1)
		go d.pump(es.Events())
	}
	return nil
}

// probeApp checks that the gateway app accepts a connection on its port on
// the phone, through adb and without sending it anything.
func (d *Driver) probeApp(ctx context.Context) error {
	c, err := d.dev.OpenTCP(ctx, d.opts.RemotePort)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return drivers.Transient(CodeCancelled, "", ctx.Err())
		case errors.Is(err, adbwire.ErrNoServer), errors.Is(err, adbwire.ErrUnauthorized),
			errors.Is(err, adbwire.ErrOffline), errors.Is(err, adbwire.ErrDeviceNotFound):
			return d.deviceError(ctx, err)
		}
		return d.notReady(CodeAppUnreachable, fmt.Sprintf("the gateway app does not answer on the phone's port %d; start it", d.opts.RemotePort), err)
	}
	_ = c.Close()
	return nil
}

// markAppLost records that the gateway app may have gone away: the next
// send checks it again before anything is written to it.
func (d *Driver) markAppLost(why string) {
	d.mu.Lock()
	was := d.ready
	d.ready = false
	d.lastErr = why
	d.mu.Unlock()
	if was {
		d.log.Warn("gateway app lost", "reason", why)
	}
}

// pump passes the gateway's events on until it closes its channel or the
// driver is closed.
func (d *Driver) pump(in <-chan drivers.Event) {
	defer d.pumpWG.Done()
	for {
		select {
		case ev, ok := <-in:
			if !ok {
				return
			}
			select {
			case d.events <- ev:
			case <-d.done:
				return
			}
		case <-d.done:
			return
		}
	}
}

// startServer starts an adb server with the configured binary, at most
// once per serverRetry. It never stops or restarts a running server.
func (d *Driver) startServer(ctx context.Context) bool {
	if d.opts.ADBPath == "" {
		return false
	}
	d.mu.Lock()
	if time.Since(d.serverTried) < serverRetry {
		d.mu.Unlock()
		return false
	}
	d.serverTried = time.Now()
	d.mu.Unlock()
	host, port := "127.0.0.1", "5037"
	if d.opts.Server != "" {
		if i := strings.LastIndex(d.opts.Server, ":"); i >= 0 {
			host, port = d.opts.Server[:i], d.opts.Server[i+1:]
		}
	}
	cmd := exec.CommandContext(ctx, d.opts.ADBPath, "-H", host, "-P", port, "start-server")
	cmd.Env = os.Environ()
	if d.opts.KeyDir != "" {
		cmd.Env = append(cmd.Env, "HOME="+d.opts.KeyDir, "ADB_VENDOR_KEYS="+d.opts.KeyDir+"/.android")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.log.Warn("could not start the adb server", "adb", d.opts.ADBPath, "err", err, "output", strings.TrimSpace(string(out)))
		return false
	}
	d.log.Info("started the adb server", "adb", d.opts.ADBPath, "server", d.client.Addr())
	return true
}

// monitor checks the phone every poll interval, and at once when the
// tracker or a failed send pokes it.
func (d *Driver) monitor() {
	defer d.wg.Done()
	t := time.NewTicker(d.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
		case <-d.kick:
		}
		ctx, cancel := context.WithTimeout(d.base, max(d.opts.PollInterval, 10*time.Second))
		d.check(ctx)
		cancel()
	}
}

// check notices a lost or rebooted phone and prepares one that is back.
func (d *Driver) check(ctx context.Context) {
	if !d.isReady() {
		if err := d.prepare(ctx); err != nil {
			d.log.Debug("phone not ready", "err", err)
		}
		return
	}
	devs, err := d.client.Devices(ctx)
	if err != nil {
		d.markLost("adb server: " + err.Error())
		return
	}
	found := false
	for _, dv := range devs {
		if dv.Serial == d.opts.Serial || (d.opts.Serial == "" && len(devs) == 1) {
			found = true
			if !dv.Online() {
				d.markLost("phone " + dv.State)
				return
			}
		}
	}
	if !found {
		d.markLost("phone disconnected")
		return
	}
	id, err := d.readBootID(ctx)
	if err != nil {
		d.markLost("phone not answering: " + err.Error())
		return
	}
	d.mu.Lock()
	rebooted := id != d.bootID
	d.mu.Unlock()
	if rebooted {
		d.markLost("phone rebooted")
	}
	if d.opts.Mode == ModeForward && d.isReady() {
		if err := d.probeApp(ctx); err != nil && ctx.Err() == nil {
			d.markAppLost("gateway app not answering")
		}
	}
	if !d.isReady() {
		if err := d.prepare(ctx); err != nil {
			d.log.Debug("phone not ready", "err", err)
		}
	}
}

// track follows the server's device list and pokes the monitor on every
// change; the stream ends when the server restarts, so it resubscribes.
func (d *Driver) track() {
	defer d.wg.Done()
	ctx := d.base
	last := ""
	for {
		err := d.client.TrackDevices(ctx, func(devs []adbwire.DeviceInfo) {
			state := "absent"
			for _, dv := range devs {
				if dv.Serial == d.opts.Serial || (d.opts.Serial == "" && len(devs) == 1) {
					state = dv.State
				}
			}
			if state != last {
				last = state
				if state != "device" {
					d.markLost("phone " + state)
				}
				d.poke()
			}
		})
		if ctx.Err() != nil {
			return
		}
		d.log.Debug("device tracking ended", "err", err)
		select {
		case <-d.done:
			return
		case <-time.After(d.opts.PollInterval):
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
