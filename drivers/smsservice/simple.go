package smsservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"smsgw/drivers"
)

// simple is the configurable JSON dialect. It cannot ask the app about an
// earlier send, so it never resolves an uncertain handoff, gives no
// delivery reports, and answers Status only from what this process did.
type simple struct{ d *Driver }

// SimpleFields are the values a simple body template may use. Strings are
// JSON-escaped without quotes, so a template writes "{{.To}}".
type SimpleFields struct {
	ID        string
	To        string
	Text      string
	ExpiresAt string
	// TTL is the validity left, in whole seconds.
	TTL   int
	Parts int
	SIM   int
	// Token is the content of token_file (for header templates).
	Token string
}

// jsonEscape returns s as the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// RenderSimpleBody executes the body template for m and checks that the
// result is JSON.
func RenderSimpleBody(tmpl string, f SimpleFields) ([]byte, error) {
	t, err := template.New("body").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, err
	}
	esc := f
	esc.ID, esc.To, esc.Text, esc.ExpiresAt, esc.Token = jsonEscape(f.ID), jsonEscape(f.To), jsonEscape(f.Text), jsonEscape(f.ExpiresAt), jsonEscape(f.Token)
	var buf bytes.Buffer
	if err := t.Execute(&buf, esc); err != nil {
		return nil, err
	}
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("the body template does not produce JSON")
	}
	return buf.Bytes(), nil
}

func (s *simple) fields(m *drivers.Outbound) SimpleFields {
	o := s.d.opts
	f := SimpleFields{ID: m.ID, To: m.To, Text: m.Text, Parts: max(len(m.Segments.Parts), 1), SIM: o.SIMSlot, Token: o.Token}
	if !m.ExpiresAt.IsZero() {
		f.ExpiresAt = m.ExpiresAt.UTC().Format(time.RFC3339)
		f.TTL = max(int(m.ExpiresAt.Sub(o.Now()).Seconds()), 0)
	}
	return f
}

func (s *simple) send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	d := s.d
	o := d.opts.Simple
	f := s.fields(m)
	body, err := RenderSimpleBody(o.Body, f)
	if err != nil {
		return drivers.Receipt{}, drivers.Permanent(CodeRejected, "simple.body: "+err.Error(), nil)
	}
	header := map[string]string{}
	for k, v := range o.Headers {
		t, err := template.New("header").Parse(v)
		if err != nil {
			return drivers.Receipt{}, drivers.Permanent(CodeRejected, "simple.headers."+k+": "+err.Error(), nil)
		}
		var b strings.Builder
		if err := t.Execute(&b, SimpleFields{ID: f.ID, Token: f.Token}); err != nil {
			return drivers.Receipt{}, drivers.Permanent(CodeRejected, "simple.headers."+k+": "+err.Error(), nil)
		}
		header[k] = b.String()
	}
	rep, err := d.http.do(ctx, o.Method, o.Path, body, header)
	if err != nil {
		de := drivers.Classify(err)
		s.remember(m.ID, de)
		return drivers.Receipt{}, de
	}
	if !slices.Contains(o.SuccessStatus, rep.status) {
		de := statusError(rep, o.Path, d.opts.Now())
		if rep.status == http.StatusConflict {
			de = drivers.Uncertain(CodeAppError, "the app answered 409 and cannot be asked what it has", nil)
		}
		s.remember(m.ID, de)
		return drivers.Receipt{}, de
	}
	ref := m.ID
	if id := pointerString(rep.body, o.IDPointer); id != "" {
		ref = id
	}
	d.mu.Lock()
	d.remember(m.ID, memoHanded, ref)
	d.mu.Unlock()
	return drivers.Receipt{Ref: ref, Parts: f.Parts, DeliveryReports: false}, nil
}

// remember notes a failed send: transient means nothing left.
func (s *simple) remember(id string, de *drivers.Error) {
	k := memoUncertain
	if de.Class != drivers.ClassUncertain {
		k = memoRefused
	}
	s.d.mu.Lock()
	s.d.remember(id, k, "")
	s.d.mu.Unlock()
}

// status answers only for what this process did: the app cannot be asked,
// so a message from before a restart is an error and recovery holds it.
func (s *simple) status(_ context.Context, id, ref string) (drivers.Status, error) {
	s.d.mu.Lock()
	mem, ok := s.d.memory[id]
	s.d.mu.Unlock()
	switch {
	case ok && mem.kind == memoHanded:
		return drivers.Status{State: drivers.SendSent, Ref: mem.ref}, nil
	case ok && mem.kind == memoRefused:
		return drivers.Status{State: drivers.SendNotFound}, nil
	}
	return drivers.Status{}, drivers.Uncertain(CodeNoMemory,
		"the simple dialect cannot ask the app about a message; check the phone's sent messages", nil)
}

// health checks that the app answers HTTP at all; the simple dialect has
// no health report.
func (s *simple) health(ctx context.Context) (drivers.Health, error) {
	d := s.d
	now := d.opts.Now().UTC()
	rep, err := d.http.do(ctx, http.MethodGet, "/", nil, nil)
	if err != nil {
		if ctx.Err() != nil {
			return drivers.Health{}, fmt.Errorf("smsservice health: %w", ctx.Err())
		}
		return drivers.Health{State: drivers.StateDown, Detail: "phone app unreachable at " + d.opts.BaseURL,
			LastError: drivers.Classify(err).Error(), CheckedAt: now}, nil
	}
	d.beat()
	h := drivers.Health{State: drivers.StateReady, CheckedAt: now,
		Detail: "app answers (HTTP " + strconv.Itoa(rep.status) + "); the simple dialect reports no battery or signal"}
	if rep.status == http.StatusUnauthorized || rep.status == http.StatusForbidden {
		h.State, h.LastError = drivers.StateDegraded, "the app refuses our credentials on /"
	}
	return h, nil
}

// pointerString resolves an RFC 6901 JSON pointer in body to a string (a
// number is written in decimal); "" when absent.
func pointerString(body []byte, ptr string) string {
	var v any
	if ptr == "" || json.Unmarshal(body, &v) != nil {
		return ""
	}
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
