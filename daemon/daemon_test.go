package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"smsgw/daemon/client"
)

// rawHTTP returns an HTTP client that dials the daemon's socket.
func rawHTTP(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

func startForTest(t *testing.T) (*client.Client, *http.Client) {
	c, socket := startForBench(t, `{name: sim, type: sim, pacing: {max: "1/24h"}}`)
	return c, rawHTTP(socket)
}

func post(t *testing.T, h *http.Client, body, contentType, key string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://smsgw/v1/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := h.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, buf.Bytes()
}

// TestIdempotencyUnderConcurrency sends one key and payload 50 times at
// once to the real daemon: exactly one message is stored.
func TestIdempotencyUnderConcurrency(t *testing.T) {
	c, h := startForTest(t)
	body := `{"to":"+33612345678","purpose":"otp","params":{"code":"123456"}}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var firstBody []byte
	replayBodies := [][]byte{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, hdr, b := post(t, h, body, "application/json", "same-key-1")
			mu.Lock()
			defer mu.Unlock()
			codes[status]++
			switch status {
			case http.StatusAccepted:
				firstBody = b
			case http.StatusOK:
				if hdr.Get("Idempotent-Replayed") != "true" {
					t.Error("replay without Idempotent-Replayed header")
				}
				replayBodies = append(replayBodies, b)
			}
		}()
	}
	wg.Wait()
	if codes[http.StatusAccepted] != 1 || codes[http.StatusOK]+codes[http.StatusConflict] != 49 {
		t.Fatalf("status codes %v", codes)
	}
	for _, b := range replayBodies {
		if !bytes.Equal(b, firstBody) {
			t.Fatalf("replay body differs:\n%s\n%s", b, firstBody)
		}
	}
	list, err := c.Messages(context.Background(), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Messages) != 1 {
		t.Fatalf("%d messages stored", len(list.Messages))
	}
	// The same key with another payload is refused.
	status, _, _ := post(t, h, strings.Replace(body, "123456", "654321", 1), "application/json", "same-key-1")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("other payload with a used key: %d", status)
	}
}

// TestBadInputGets4xx checks that bad requests get a problem+json 4xx and
// leave the daemon serving.
func TestBadInputGets4xx(t *testing.T) {
	_, h := startForTest(t)
	good := `{"to":"+33612345678","purpose":"otp","params":{"code":"123456"}}`
	cases := []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"malformed json", `{"to":`, "application/json", 400, "malformed_json"},
		{"wrong content type", good, "text/plain", 415, "unsupported_media_type"},
		{"unknown field", `{"to":"+33612345678","purpose":"otp","params":{"code":"1234"},"colour":"red"}`, "application/json", 400, "unknown_field"},
		{"10 MB body", `{"to":"` + strings.Repeat("9", 10<<20) + `"}`, "application/json", 413, "body_too_large"},
		{"bad number", `{"to":"0612345678","purpose":"otp","params":{"code":"123456"}}`, "application/json", 422, "recipient_invalid"},
		{"unknown purpose", `{"to":"+33612345678","purpose":"marketing","params":{"code":"123456"}}`, "application/json", 422, "purpose_unknown"},
		{"missing param", `{"to":"+33612345678","purpose":"otp","params":{}}`, "application/json", 422, "template_param_missing"},
		{"number as string field", `{"to":33612345678,"purpose":"otp"}`, "application/json", 400, "field_type_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, b := post(t, h, c.body, c.ctype, "")
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, b)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			var p client.Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Code != c.code || p.Detail == "" {
				t.Fatalf("problem %+v (%v), want code %s", p, err, c.code)
			}
			if status, _, b := post(t, h, good, "application/json", ""); status != http.StatusAccepted {
				t.Fatalf("daemon stopped serving after %s: %d %s", c.name, status, b)
			}
		})
	}
}
