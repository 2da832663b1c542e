package modem

import (
	"context"
	"fmt"
	"time"

	"smsgw/drivers"
)

// Health reads the modem's registration, signal and operator and says
// whether it can send.
func (d *Driver) Health(ctx context.Context) (drivers.Health, error) {
	if c := d.current(); c != nil {
		d.refresh(ctx, c)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	h := drivers.Health{
		SIM:       st.sim,
		Operator:  st.operator,
		LastError: st.lastError,
		CheckedAt: time.Now(),
	}
	if st.signal != nil {
		v := *st.signal
		h.SignalDBm = &v
	}
	switch {
	case d.stopped != nil:
		h.State, h.Detail = drivers.StateDown, "stopped: "+d.stopped.Error()
	case d.liveConn() == nil && st.outOfOrder:
		h.State, h.Detail = drivers.StateDown, fmt.Sprintf("out of service after %d failed recoveries; still trying to reopen %s", st.failures, d.opts.Port)
	case d.liveConn() == nil:
		h.State, h.Detail = drivers.StateDown, "modem not connected on "+d.opts.Port
	case st.regKnown && !st.reg.Registered():
		h.State, h.Detail = drivers.StateDown, "not on a network: "+st.reg.String()
	case st.smsc == "" && d.opts.SMSC == "":
		h.State, h.Detail = drivers.StateDown, "no SMSC number on the SIM and none configured"
	case st.signal != nil && *st.signal <= -105:
		h.State, h.Detail = drivers.StateDegraded, fmt.Sprintf("weak signal (%d dBm)", *st.signal)
	default:
		h.State = drivers.StateReady
	}
	return h, nil
}

// signalWords describes a signal level as smstools does (dBm = -113 + 2·rssi).
func signalWords(dbm int) string {
	switch {
	case dbm <= -95:
		return "marginal"
	case dbm <= -85:
		return "workable"
	case dbm <= -75:
		return "good"
	}
	return "excellent"
}

// Diagnose examines the modem for `smsgw doctor`: port, SIM, network,
// signal and SMSC, each with what to do when it is wrong.
func (d *Driver) Diagnose(ctx context.Context) drivers.Diagnosis {
	h, _ := d.Health(ctx)
	d.mu.Lock()
	st := d.status
	connected := d.liveConn() != nil
	stopped := d.stopped
	d.mu.Unlock()
	var checks []drivers.Check
	add := func(name, status, detail, fix string) {
		checks = append(checks, drivers.Check{Name: name, Status: status, Detail: detail, Fix: fix})
	}
	if connected {
		add("port", drivers.CheckOK, d.opts.Port+" answers AT commands", "")
	} else if stopped == nil {
		add("port", drivers.CheckFail, st.lastError,
			"check that the modem is plugged in, that "+d.opts.Port+" exists (ls -l /dev/serial/by-id/), that smsgw may open it (group dialout) and that no other program (ModemManager) holds it")
	}
	switch {
	case stopped != nil:
		add("SIM", drivers.CheckFail, stopped.Error(), "put the right PIN in pin_file (or unlock the SIM in a phone), then restart smsgw")
	case st.sim == "ready":
		add("SIM", drivers.CheckOK, "ready", "")
	case st.sim != "":
		add("SIM", drivers.CheckFail, st.sim, "check that a working SIM is inserted and its PIN is in pin_file")
	}
	if connected {
		switch {
		case !st.regKnown:
			add("network", drivers.CheckWarn, "the modem does not report its registration", "")
		case st.reg.Registered():
			add("network", drivers.CheckOK, st.reg.String()+operatorText(st.operator), "")
		default:
			add("network", drivers.CheckFail, st.reg.String(), "check the antenna, the SIM's subscription and coverage at this place")
		}
		switch {
		case st.signal == nil:
			add("signal", drivers.CheckWarn, "not known", "check the antenna")
		case *st.signal <= -105:
			add("signal", drivers.CheckWarn, fmt.Sprintf("%d dBm (%s)", *st.signal, signalWords(*st.signal)), "move the modem or fit an external antenna")
		default:
			add("signal", drivers.CheckOK, fmt.Sprintf("%d dBm (%s)", *st.signal, signalWords(*st.signal)), "")
		}
		switch {
		case d.opts.SMSC != "":
			add("SMSC", drivers.CheckOK, "configured: "+d.opts.SMSC, "")
		case st.smsc != "":
			add("SMSC", drivers.CheckOK, "from the SIM: "+st.smsc, "")
		default:
			add("SMSC", drivers.CheckFail, "no SMSC number on the SIM", "set modem.smsc to your operator's SMS centre number")
		}
	}
	ok := h.State == drivers.StateReady || h.State == drivers.StateDegraded
	verdict := "The modem can send SMS."
	if h.State == drivers.StateDegraded {
		verdict = "The modem can send SMS, but " + h.Detail + "."
	}
	if !ok {
		verdict = "The modem cannot send SMS: " + h.Detail + "."
	}
	return drivers.Diagnosis{Checks: checks, OK: ok, Verdict: verdict}
}

func operatorText(op string) string {
	if op == "" {
		return ""
	}
	return " (" + op + ")"
}
