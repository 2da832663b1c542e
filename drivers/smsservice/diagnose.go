package smsservice

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"smsgw/drivers"
)

// doctorProbeID is a message id no one sends: looking it up tells
// "authorised" (404) from "refused" (401/403) without sending anything.
const doctorProbeID = "smsgw-doctor-probe"

// Diagnose examines the phone app for `smsgw doctor`: reachable,
// authorised, healthy, webhooks registered; with a verdict and what to do.
func (d *Driver) Diagnose(ctx context.Context) drivers.Diagnosis {
	var checks []drivers.Check
	add := func(c drivers.Check) { checks = append(checks, c) }
	verdict := func(ok bool, s string) drivers.Diagnosis {
		return drivers.Diagnosis{Checks: checks, OK: ok, Verdict: s}
	}

	// Reachable.
	path := "/health"
	if d.opts.Dialect == DialectSimple {
		path = "/"
	}
	rep, err := d.http.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		de := drivers.Classify(err)
		add(drivers.Check{Name: "reachable", Status: drivers.CheckFail, Detail: de.Error(),
			Fix: "check that the phone is on, on the same network (or that the adb forward is up), that the app's local server is started, and that url " + d.opts.BaseURL + " is right"})
		return verdict(false, "the phone app cannot be reached")
	}
	add(drivers.Check{Name: "reachable", Status: drivers.CheckOK, Detail: fmt.Sprintf("%s answers (HTTP %d)", d.opts.BaseURL, rep.status)})

	// Authorised.
	if d.opts.Dialect == DialectSMSGate {
		rep, err := d.http.do(ctx, http.MethodGet, "/message/"+doctorProbeID, nil, nil)
		switch {
		case err != nil:
			add(drivers.Check{Name: "authorised", Status: drivers.CheckFail, Detail: drivers.Classify(err).Error(), Fix: "the app stopped answering; try again"})
			return verdict(false, "the phone app stopped answering")
		case rep.status == http.StatusUnauthorized || rep.status == http.StatusForbidden:
			add(drivers.Check{Name: "authorised", Status: drivers.CheckFail, Detail: fmt.Sprintf("HTTP %d", rep.status),
				Fix: "set username and password_file (or token_file) to the credentials shown in the app's local server settings"})
			return verdict(false, "the phone app refuses our credentials")
		case rep.status == http.StatusNotFound || rep.status == http.StatusOK:
			add(drivers.Check{Name: "authorised", Status: drivers.CheckOK, Detail: "credentials accepted"})
		default:
			add(drivers.Check{Name: "authorised", Status: drivers.CheckWarn, Detail: fmt.Sprintf("unexpected HTTP %d on /message/{id}", rep.status),
				Fix: "check that dialect smsgate matches the app"})
		}
	} else {
		add(drivers.Check{Name: "authorised", Status: drivers.CheckWarn, Detail: "the simple dialect cannot check credentials without sending"})
	}

	// Health.
	h, err := d.dialect.health(ctx)
	ok := true
	switch {
	case err != nil:
		add(drivers.Check{Name: "health", Status: drivers.CheckFail, Detail: err.Error()})
		ok = false
	case h.State == drivers.StateDown:
		add(drivers.Check{Name: "health", Status: drivers.CheckFail, Detail: joinDetail(h.Detail, h.LastError),
			Fix: "open the app on the phone: check mobile connectivity, battery and the failed messages it lists"})
		ok = false
	case h.State == drivers.StateDegraded:
		add(drivers.Check{Name: "health", Status: drivers.CheckWarn, Detail: joinDetail(h.Detail, h.LastError),
			Fix: "keep the phone charging (Doze does not apply while charging) and check its connectivity"})
	default:
		add(drivers.Check{Name: "health", Status: drivers.CheckOK, Detail: h.Detail})
	}
	if h.Battery != nil && !h.Battery.Charging {
		add(drivers.Check{Name: "charging", Status: drivers.CheckWarn, Detail: fmt.Sprintf("battery %d%%, not charging", h.Battery.Percent),
			Fix: "keep the phone on its charger: a discharging phone enters Doze and stops the app's server"})
	}

	// Webhooks.
	if d.hooks == nil {
		if d.opts.Dialect == DialectSMSGate {
			add(drivers.Check{Name: "webhooks", Status: drivers.CheckWarn,
				Detail: fmt.Sprintf("not configured: states are found by polling every %s", d.opts.PollInterval),
				Fix:    "set webhook.listen and webhook.secret_file for prompt delivery reports and inbound SMS"})
		}
	} else {
		add(d.checkWebhooks(ctx))
	}

	if !ok {
		return verdict(false, "the phone app answers but reports a problem: "+h.Detail)
	}
	return verdict(true, "the phone app is ready to send")
}

// checkWebhooks compares the phone's webhook list with ours.
func (d *Driver) checkWebhooks(ctx context.Context) drivers.Check {
	c := drivers.Check{Name: "webhooks"}
	rep, err := d.http.do(ctx, http.MethodGet, "/webhooks", nil, nil)
	if err != nil || rep.status != http.StatusOK {
		c.Status, c.Detail = drivers.CheckWarn, "cannot list the phone's webhooks"
		c.Fix = "check the app version (local webhooks need /webhooks)"
		return c
	}
	var hooks []Webhook
	_ = json.Unmarshal(rep.body, &hooks)
	var missing []string
	for _, ev := range HookEvents {
		found := false
		for _, h := range hooks {
			if h.Event == ev && h.URL == d.hooks.url {
				found = true
			}
		}
		if !found {
			missing = append(missing, ev)
		}
	}
	if len(missing) > 0 {
		c.Status = drivers.CheckFail
		c.Detail = "not registered on the phone for " + strings.Join(missing, ", ") + " (url " + d.hooks.url + ")"
		c.Fix = "the driver registers them when it starts; the app accepts only https:// or http://127.0.0.1 URLs (use adb reverse, or give webhook.url an https address)"
		return c
	}
	c.Status, c.Detail = drivers.CheckOK, "registered for "+strings.Join(HookEvents, ", ")+" at "+d.hooks.url+"; the signing key must equal webhook.secret_file"
	return c
}
