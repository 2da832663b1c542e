package adb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
)

// Android's outgoing SMS limit for apps that are not the default SMS app,
// unless the settings below override it.
const (
	defaultSMSLimit    = 30
	defaultSMSInterval = time.Minute
	lowBattery         = 15
	lowStorageKiB      = 100 << 10
	hotBattery         = 450 // tenths of °C
)

// facts is what one look at the phone found. Each field that could not be
// read is left at its zero value, with an error where it matters.
type facts struct {
	serverVersion int
	serverErr     error
	listed        []adbwire.DeviceInfo
	state         string // "" when the phone is not listed
	shellErr      error

	props    map[string]string
	sdk      int
	battery  *Battery
	signal   *Signal
	airplane *bool
	freeKiB  int64
	freeOK   bool
	doze     *bool // nil: not checked

	smsLimit    int
	smsInterval time.Duration
	limitSet    bool

	gatewayErr    error
	gatewayHealth *drivers.Health
}

// look examines the phone: every probe runs with ctx and failures are
// recorded, not returned.
func (d *Driver) look(ctx context.Context, gateway bool) *facts {
	f := &facts{}
	f.serverVersion, f.serverErr = d.client.Version(ctx)
	if errors.Is(f.serverErr, adbwire.ErrNoServer) && d.startServer(ctx) {
		f.serverVersion, f.serverErr = d.client.Version(ctx)
	}
	if f.serverErr != nil {
		return f
	}
	f.listed, _ = d.client.Devices(ctx)
	for _, dv := range f.listed {
		if dv.Serial == d.opts.Serial || (d.opts.Serial == "" && len(f.listed) == 1) {
			f.state = dv.State
		}
	}
	if f.state != "device" {
		return f
	}
	shell := func(cmd string) string {
		res, err := d.dev.Shell(ctx, cmd)
		if err != nil && f.shellErr == nil {
			var ee *adbwire.ExitError
			if !errors.As(err, &ee) {
				f.shellErr = err
			}
		}
		return string(res.Stdout)
	}
	f.props = ParseGetprop(shell("getprop"))
	fmt.Sscan(f.props["ro.build.version.sdk"], &f.sdk)
	if b, ok := ParseBattery(shell("dumpsys battery")); ok {
		f.battery = &b
	}
	if s, ok := ParseSignal(shell("dumpsys telephony.registry"), d.opts.SIMSlot); ok {
		f.signal = &s
	}
	if n, ok := ParseSettingInt(shell("settings get global airplane_mode_on")); ok {
		on := n == 1
		f.airplane = &on
	}
	dfCmd := "df -k /data"
	if f.sdk > 0 && f.sdk < 24 {
		dfCmd = "df /data"
	}
	f.freeKiB, f.freeOK = ParseDF(shell(dfCmd))
	if d.opts.AppPackage != "" {
		w := ParseWhitelist(shell("dumpsys deviceidle whitelist"), d.opts.AppPackage)
		f.doze = &w
	}
	f.smsLimit, f.smsInterval = defaultSMSLimit, defaultSMSInterval
	if n, ok := ParseSettingInt(shell("settings get global sms_outgoing_check_max_count")); ok && n > 0 {
		f.smsLimit, f.limitSet = int(n), true
	}
	if n, ok := ParseSettingInt(shell("settings get global sms_outgoing_check_interval_ms")); ok && n > 0 {
		f.smsInterval = time.Duration(n) * time.Millisecond
	}
	if gateway && d.opts.Mode == ModeForward {
		gw, err := d.gateway(ctx)
		switch {
		case err != nil:
			f.gatewayErr = err
		default:
			if hc, ok := gw.(drivers.HealthChecker); ok {
				h, err := hc.Health(ctx)
				if err != nil {
					f.gatewayErr = err
				} else {
					f.gatewayHealth = &h
				}
			}
		}
	}
	return f
}

// maxSendsIn returns the most sends the pacing allows within window, or -1
// when the pacing sets no bound.
func (p Pacing) maxSendsIn(window time.Duration) int {
	best := -1
	if p.Every > 0 {
		best = int(window/p.Every) + 1
	}
	if p.Count > 0 && p.Window > 0 {
		n := p.Count
		if p.Window < window {
			n = p.Count * int((window+p.Window-1)/p.Window)
		}
		if best < 0 || n < best {
			best = n
		}
	}
	return best
}

// overLimit reports whether the configured pacing could exceed Android's
// outgoing SMS limit, and describes the comparison.
func (d *Driver) overLimit(f *facts) (bool, string) {
	n := d.opts.Pacing.maxSendsIn(f.smsInterval)
	limit := fmt.Sprintf("Android allows %d SMS per %s", f.smsLimit, f.smsInterval)
	if !f.limitSet {
		limit += " (default)"
	}
	if n < 0 {
		return true, limit + "; this driver has no pacing"
	}
	if n > f.smsLimit {
		return true, fmt.Sprintf("%s; the pacing allows up to %d", limit, n)
	}
	return false, fmt.Sprintf("%s; the pacing allows at most %d", limit, n)
}

// Health reports the phone's state: down when it cannot send, degraded
// when it can but something needs attention.
func (d *Driver) Health(ctx context.Context) (drivers.Health, error) {
	f := d.look(ctx, true)
	h := drivers.Health{State: drivers.StateReady, CheckedAt: time.Now()}
	var down, warn []string
	switch {
	case f.serverErr != nil:
		down = append(down, "adb server unreachable")
		h.LastError = f.serverErr.Error()
	case f.state == "":
		down = append(down, "phone not connected")
	case f.state != "device":
		down = append(down, "phone "+f.state)
	case f.shellErr != nil:
		down = append(down, "phone not answering")
		h.LastError = f.shellErr.Error()
	}
	if f.props != nil {
		if f.props["sys.boot_completed"] != "1" {
			down = append(down, "phone booting")
		}
		h.SIM = simState(f.props, d.opts.SIMSlot)
		h.Operator = operator(f.props, d.opts.SIMSlot)
		if !simUsable(h.SIM) {
			down = append(down, "SIM "+orUnknown(h.SIM))
		}
	}
	if b := f.battery; b != nil && b.Percent() >= 0 {
		h.Battery = &drivers.Battery{Percent: b.Percent(), Charging: b.Charging()}
		if b.Percent() < lowBattery && !b.Charging() {
			warn = append(warn, fmt.Sprintf("battery low (%d%%)", b.Percent()))
		}
		if b.Temperature >= hotBattery {
			warn = append(warn, fmt.Sprintf("battery hot (%.1f °C)", float64(b.Temperature)/10))
		}
	}
	if s := f.signal; s != nil {
		if s.Known {
			dbm := s.DBm
			h.SignalDBm = &dbm
		}
		if s.Level == 0 {
			warn = append(warn, "no signal")
		}
	}
	if f.airplane != nil && *f.airplane {
		down = append(down, "airplane mode on")
	}
	if f.freeOK && f.freeKiB < lowStorageKiB {
		warn = append(warn, fmt.Sprintf("storage low (%d MiB free)", f.freeKiB>>10))
	}
	if f.doze != nil && !*f.doze {
		warn = append(warn, "gateway app not on the Doze whitelist")
	}
	if f.props != nil {
		if over, _ := d.overLimit(f); over {
			warn = append(warn, "pacing may exceed Android's SMS limit")
		}
	}
	if f.gatewayErr != nil && len(down) == 0 {
		down = append(down, "gateway app unreachable")
		h.LastError = f.gatewayErr.Error()
	}
	if g := f.gatewayHealth; g != nil && g.State != drivers.StateReady {
		warn = append(warn, "gateway app "+string(g.State))
		if g.State == drivers.StateDown {
			down = append(down, "gateway app down")
		}
	}
	if h.LastError == "" {
		d.mu.Lock()
		h.LastError = d.lastErr
		d.mu.Unlock()
	}
	switch {
	case len(down) > 0:
		h.State = drivers.StateDown
	case len(warn) > 0:
		h.State = drivers.StateDegraded
	}
	h.Detail = strings.Join(append(down, warn...), "; ")
	return h, nil
}
