package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func TestServeUnixSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "api.sock")
	ln, err := ListenUnix(path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want socket 0660", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm()&^0o750 != 0 {
		t.Errorf("socket directory mode = %v (%v), want at most 0750", di.Mode(), err)
	}

	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx, ln) }()

	c := unixClient(path)
	resp, err := c.Post("http://smsgw/v1/messages", "application/json", strings.NewReader(otpBody))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	m := decodeMessage(t, body)

	for _, target := range []string{"/v1/messages/" + m.ID, "/v1/messages", "/v1/dlq", "/v1/health", "/v1/stats"} {
		resp, err := c.Get("http://smsgw" + target)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", target, resp.StatusCode)
		}
	}
	resp, err = c.Post("http://smsgw/v1/messages", "application/json", strings.NewReader(`{"to":`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed body: status %d", resp.StatusCode)
	}

	if _, err := ListenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "another smsgw is running on "+path) {
		t.Errorf("second ListenUnix: %v", err)
	}

	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestServeFinishesRunningRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.fb.entered = make(chan struct{})
	h.fb.release = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx, ln) }()

	type result struct {
		status int
		err    error
	}
	answered := make(chan result, 1)
	go func() {
		resp, err := unixClient(path).Post("http://smsgw/v1/messages", "application/json", strings.NewReader(otpBody))
		if err != nil {
			answered <- result{err: err}
			return
		}
		resp.Body.Close()
		answered <- result{status: resp.StatusCode}
	}()
	<-h.fb.entered
	cancel() // shut down while the submission is inside the backend
	close(h.fb.release)

	if r := <-answered; r.err != nil || r.status != http.StatusAccepted {
		t.Errorf("running request: status %d err %v", r.status, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestListenUnixStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // as after a crash: the file stays, nobody listens

	ln, err := ListenUnix(path, 0o660)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("new socket does not answer: %v", err)
	}
	conn.Close()
}

func TestListenUnixRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("ListenUnix over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("regular file changed: %q %v", b, err)
	}
}

func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		otpBody, `{}`, `{"to":`, `null`, `[]`, `{"to":1}`, `{"x":1}`, `{"params":{"a":1}}`,
		`{"params":null}`, otpBody + ` {}`, `{"to":"\ud800"}`, "\xef\xbb\xbf{}", `{"TO":"+33612345678"}`,
		`{"params":{"a":"b","a":"c"}}`, `  {"ttl":"5m"}  `, `"str"`, `1e999`,
	} {
		f.Add([]byte(s))
	}
	const limit = 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		body := http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(data)), limit)
		req, p := decodeSubmit(body)
		if p != nil {
			if p.Status < 400 || p.Status > 499 || p.Code == "" || p.Detail == "" {
				t.Fatalf("problem %+v is not a proper 4xx", p)
			}
			if p.Status == http.StatusRequestEntityTooLarge && len(data) <= limit {
				t.Fatalf("%d bytes called too large", len(data))
			}
			if req.To != "" || req.Purpose != "" || req.Template != "" || req.TTL != "" || req.Params != nil {
				t.Fatalf("problem %s with a request %+v", p.Code, req)
			}
			return
		}
		if len(data) > limit {
			t.Fatalf("%d bytes accepted past the limit", len(data))
		}
		// A decoded request re-encodes to JSON that decodes to the same.
		enc, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, p := decodeSubmit(bytes.NewReader(enc))
		if p != nil || fingerprint(again) != fingerprint(req) {
			t.Fatalf("round trip of %s: %+v, %v", enc, again, p)
		}
	})
}
