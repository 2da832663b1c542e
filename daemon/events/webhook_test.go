package events

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

const testSecret = "0123456789abcdef-test-secret"

// verifyAsDocumented checks a delivery with the recipe of the README,
// written out here without this package's code.
func verifyAsDocumented(r *http.Request, body []byte) error {
	ts := r.Header.Get("Smsgw-Timestamp")
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("Smsgw-Signature"))) {
		return errors.New("signature mismatch")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("stale timestamp")
	}
	return nil
}

// receiver is a webhook endpoint that can be down.
type receiver struct {
	mu       sync.Mutex
	down     bool
	refused  int
	got      []client.FeedEvent
	bad      []string
	received chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.down {
		rc.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := verifyAsDocumented(r, body); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	var ev client.FeedEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	if r.Header.Get("Smsgw-Event-Id") != strconv.FormatUint(ev.ID, 10) {
		rc.bad = append(rc.bad, "event id header "+r.Header.Get("Smsgw-Event-Id"))
	}
	rc.got = append(rc.got, ev)
	rc.received <- struct{}{}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func startWorker(t *testing.T, st *store.Store, tgt Target) {
	t.Helper()
	// A new webhook starts at the feed's head: set it before any event.
	if _, err := st.WebhookCursor(t.Context(), tgt.Client, st.FeedHead()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	w := NewWorker(st, tgt, slog.New(slog.DiscardHandler))
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

func target(url string) Target {
	return Target{
		Client: "shop", URL: url, Secret: []byte(testSecret), MaxAttempts: 1000,
		Initial: time.Millisecond, Max: 5 * time.Millisecond, Timeout: 5 * time.Second,
	}
}

func TestWebhookReceiverDownGetsEveryEventAfterwards(t *testing.T) {
	st := openStore(t)
	rc := &receiver{down: true, received: make(chan struct{}, 100)}
	srv := httptest.NewServer(rc) // 127.0.0.1
	defer srv.Close()
	startWorker(t, st, target(srv.URL))

	ctx := t.Context()
	for i := range 6 {
		if err := st.AppendDevice(ctx, "sim", "state"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Wait (hang guard only) until the receiver refused a few attempts
	// and the pending delivery is visible in the store.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		refused := rc.refused
		rc.mu.Unlock()
		pending, err := st.Deliveries(ctx, "shop", store.DeliveryPending, 10)
		if err != nil {
			t.Fatal(err)
		}
		if refused >= 3 && len(pending) == 1 && pending[0].Attempts >= 1 && pending[0].LastStatus == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver refused %d attempts; pending %+v", refused, pending)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rc.mu.Lock()
	rc.down = false
	rc.mu.Unlock()
	for i := range 6 {
		select {
		case <-rc.received:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 6 events arrived", i)
		}
	}
	for {
		delivered, err := st.Deliveries(ctx, "shop", store.DeliveryDelivered, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(delivered) == 6 {
			break
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("%d delivered records, want 6", len(delivered))
		}
		time.Sleep(5 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %v", rc.bad)
	}
	for i, ev := range rc.got {
		if ev.Kind != client.EventDeviceStatus || ev.DeviceState != "state"+strconv.Itoa(i) {
			t.Errorf("delivery %d = %+v, want state%d in order", i, ev, i)
		}
	}
}

func TestWebhookDeadLettersAndRefusesPublicAndRedirects(t *testing.T) {
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redirect.Close()
	cases := []struct{ name, url, want string }{
		{"public address", "http://203.0.113.9:9/hook", "not private"},
		{"redirect", redirect.URL, "redirect"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			tgt := target(c.url)
			tgt.MaxAttempts = 3
			startWorker(t, st, tgt)
			if err := st.AppendDevice(t.Context(), "sim", "down", ""); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				dead, err := st.Deliveries(t.Context(), "shop", store.DeliveryDead, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(dead) == 1 {
					if dead[0].Attempts != 3 || !strings.Contains(dead[0].LastError, c.want) {
						t.Errorf("dead letter %+v, want 3 attempts and %q", dead[0], c.want)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("the delivery was never dead-lettered")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":1}`)
	now := time.Unix(1_700_000_000, 0)
	sig := Sign([]byte(testSecret), now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	if err := Verify([]byte(testSecret), ts, sig, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ts, sig string
		body          []byte
		want          error
	}{
		{"other body", ts, sig, []byte(`{"id":2}`), ErrBadSignature},
		{"other secret", ts, Sign([]byte("another secret!!"), now.Unix(), body), body, ErrBadSignature},
		{"stale", strconv.FormatInt(now.Unix()-3600, 10), Sign([]byte(testSecret), now.Unix()-3600, body), body, ErrStale},
		{"bad timestamp", "12x", sig, body, ErrBadSignature},
	}
	for _, c := range cases {
		if err := Verify([]byte(testSecret), c.ts, c.sig, c.body, now, time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzParseLastEventID(f *testing.F) {
	for _, s := range []string{"", "0", "42", " 7 ", "18446744073709551615", "18446744073709551616", "-1", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok, err := ParseLastEventID(s)
		if err != nil {
			if ok || id != 0 {
				t.Fatalf("%q: id %d ok %v with error %v", s, id, ok, err)
			}
			return
		}
		if !ok {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("%q read as absent", s)
			}
			return
		}
		if strconv.FormatUint(id, 10) != strings.TrimLeft(strings.TrimSpace(s), "0") && id != 0 {
			t.Fatalf("%q read as %d", s, id)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("1700000000", []byte(`{"id":1}`), "v1=00")
	f.Add("", []byte{}, "")
	f.Fuzz(func(t *testing.T, ts string, body []byte, sig string) {
		now := time.Unix(1_700_000_000, 0)
		err := Verify([]byte(testSecret), ts, sig, body, now, time.Hour)
		if err == nil {
			sec, perr := ParseTimestamp(ts)
			if perr != nil || Sign([]byte(testSecret), sec, body) != strings.TrimSpace(sig) {
				t.Fatalf("accepted ts %q sig %q", ts, sig)
			}
		}
		// A correct signature always verifies.
		if sec, perr := ParseTimestamp(ts); perr == nil && (now.Sub(time.Unix(sec, 0)).Abs() <= time.Hour) {
			if err := Verify([]byte(testSecret), ts, Sign([]byte(testSecret), sec, body), body, now, time.Hour); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}
