package smsservice

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"smsgw/drivers"
)

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"w1","event":"sms:sent","payload":{"messageId":"m1"}}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := hex.EncodeToString(Sign(testSecret, body, ts))
	tests := []struct {
		name      string
		secret    []byte
		body      []byte
		ts, sig   string
		want      error
		skewShift time.Duration
	}{
		{name: "good", secret: testSecret, body: body, ts: ts, sig: good},
		{name: "upper-case hex", secret: testSecret, body: body, ts: ts, sig: string(bytes.ToUpper([]byte(good)))},
		{name: "wrong secret", secret: []byte("other"), body: body, ts: ts, sig: good, want: ErrBadSignature},
		{name: "body changed", secret: testSecret, body: append([]byte(" "), body...), ts: ts, sig: good, want: ErrBadSignature},
		{name: "not hex", secret: testSecret, body: body, ts: ts, sig: "zz", want: ErrBadSignature},
		{name: "no timestamp", secret: testSecret, body: body, ts: "", sig: good, want: ErrStale},
		{name: "stale", secret: testSecret, body: body, ts: ts, sig: good, skewShift: 6 * time.Minute, want: ErrStale},
		{name: "future", secret: testSecret, body: body, ts: ts, sig: good, skewShift: -6 * time.Minute, want: ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, tt.body, tt.ts, tt.sig, now.Add(tt.skewShift), 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"id":"w1","event":"sms:delivered","payload":{"messageId":"m1","deliveredAt":"2026-01-01T00:00:00Z"}}`, true},
		{`{"id":"w1","event":"sms:received","payload":{"message":"hi","sender":"+33612345678"}}`, true},
		{`{"id":"w1","event":"sms:failed","payload":{}}`, false},
		{`{"event":"sms:sent","payload":{"messageId":"m1"}}`, false},
		{`{"id":"w1","payload":{"messageId":"m1"}}`, false},
		{`[]`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		_, err := ParseWebhook([]byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("ParseWebhook(%s) = %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

// hookDriver is a driver with a webhook receiver and an app that is never
// called: webhooks are posted by the test.
func hookDriver(t *testing.T) *Driver {
	t.Helper()
	_, srv := startApp(t, phoneappOpts())
	d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour,
		Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}})
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func postHook(t *testing.T, d *Driver, body string, ts time.Time, secret []byte) int {
	t.Helper()
	tss := strconv.FormatInt(ts.Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, d.hooks.url, bytes.NewReader([]byte(body)))
	req.Header.Set(HeaderTimestamp, tss)
	req.Header.Set(HeaderSignature, hex.EncodeToString(Sign(secret, []byte(body), tss)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhookStates: duplicates, replays and late events give one final
// state per message; a bad signature or a stale timestamp is refused.
func TestWebhookStates(t *testing.T) {
	d := hookDriver(t)
	now := time.Now()
	d.track("m1", "m1", 1)
	steps := []struct {
		body   string
		ts     time.Time
		secret []byte
		status int
	}{
		{`{"id":"a","event":"sms:delivered","payload":{"messageId":"m1"}}`, now, testSecret, 200},
		{`{"id":"a","event":"sms:delivered","payload":{"messageId":"m1"}}`, now, testSecret, 200},           // replay
		{`{"id":"b","event":"sms:delivered","payload":{"messageId":"m1"}}`, now, testSecret, 200},           // duplicate
		{`{"id":"c","event":"sms:failed","payload":{"messageId":"m1","reason":"x"}}`, now, testSecret, 200}, // late
		{`{"id":"d","event":"sms:sent","payload":{"messageId":"m1"}}`, now, testSecret, 200},                // out of order
		{`{"id":"e","event":"sms:failed","payload":{"messageId":"m2","reason":"RESULT_ERROR_LIMIT_EXCEEDED"}}`, now, []byte("wrong"), 401},
		{`{"id":"f","event":"sms:failed","payload":{"messageId":"m2","reason":"RESULT_ERROR_LIMIT_EXCEEDED"}}`, now.Add(-time.Hour), testSecret, 401},
		{`{"id":"g","event":"sms:failed","payload":{"messageId":"m2","reason":"RESULT_ERROR_LIMIT_EXCEEDED"}}`, now, testSecret, 200},
		{`{"id":"h","event":"sms:received","payload":{"messageId":"in1","sender":"+33611111111","message":"STOP"}}`, now, testSecret, 200},
		{`{"id":"i","payload":{}}`, now, testSecret, 400},
	}
	for i, s := range steps {
		if got := postHook(t, d, s.body, s.ts, s.secret); got != s.status {
			t.Errorf("step %d: status %d, want %d", i, got, s.status)
		}
	}
	want := []drivers.Event{
		{Kind: drivers.EventDelivery, ID: "m1", Ref: "m1", Delivered: true},
		{Kind: drivers.EventDelivery, ID: "m2", Ref: "m2", Delivered: false, Reason: "RESULT_ERROR_LIMIT_EXCEEDED"},
		{Kind: drivers.EventInbound, From: "+33611111111", Text: "STOP"},
	}
	for i, w := range want {
		select {
		case ev := <-d.Events():
			ev.At = time.Time{}
			if ev != w {
				t.Errorf("event %d = %+v, want %+v", i, ev, w)
			}
		case <-time.After(hangGuard):
			t.Fatalf("event %d never came", i)
		}
	}
	select {
	case ev := <-d.Events():
		t.Errorf("unexpected extra event %+v", ev)
	default:
	}
}

func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(`{"id":"w1","event":"sms:delivered","payload":{"messageId":"m1"}}`))
	f.Add([]byte(`{"id":"w1","event":"sms:received","payload":{"message":"hi","sender":"+1","receivedAt":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"id":"","event":"","payload":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, ErrBadWebhook) {
				t.Fatalf("error %v is not ErrBadWebhook", err)
			}
			return
		}
		if e.ID == "" || e.Event == "" {
			t.Fatalf("accepted an envelope without id or event: %+v", e)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"id":"w1"}`), "1800000000", []byte("key"), int64(0))
	f.Add([]byte{}, "", []byte{}, int64(400))
	f.Fuzz(func(t *testing.T, body []byte, ts string, secret []byte, shift int64) {
		now := time.Unix(1_800_000_000, 0)
		good := hex.EncodeToString(Sign(secret, body, ts))
		err := VerifySignature(secret, body, ts, good, now.Add(time.Duration(shift)*time.Second), 5*time.Minute)
		if err != nil && !errors.Is(err, ErrStale) {
			t.Fatalf("a correct signature was refused: %v", err)
		}
		// Any other signature is refused.
		bad := hex.EncodeToString(Sign(append(secret, 'x'), body, ts))
		if err := VerifySignature(secret, body, ts, bad, now, 5*time.Minute); err == nil {
			t.Fatal("a wrong signature was accepted")
		}
	})
}

func TestSimpleStatusHonest(t *testing.T) {
	_, srv := startApp(t, phoneappOpts())
	d := newDriver(t, Options{Dialect: DialectSimple, BaseURL: srv.URL})
	defer d.Close()
	if _, err := d.Status(context.Background(), "01JFROMBEFORE", ""); err == nil {
		t.Error("Status of a message this process never saw gave an answer; want an error so recovery holds it")
	}
	r, err := d.Send(context.Background(), outbound("01JSIMPLE"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != "01JSIMPLE" || r.DeliveryReports {
		t.Errorf("Receipt = %+v, want ref from the reply and no delivery reports", r)
	}
}
