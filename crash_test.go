package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"smsgw/daemon/client"
)

// startDaemon runs `smsgw run` (this test binary, through testscript.Main)
// with cfg in dir and waits until it answers.
func startDaemon(t testing.TB, dir, cfg string) (*exec.Cmd, *client.Client) {
	t.Helper()
	bin, err := exec.LookPath("smsgw")
	must(t, err)
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "smsgw.yaml"))
	cmd.Dir = dir
	must(t, os.WriteFile(filepath.Join(dir, "smsgw.yaml"), []byte(cfg), 0o600))
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("daemon-%d.log", time.Now().UnixNano())))
	must(t, err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := client.NewUnix(filepath.Join(dir, "smsgw.sock"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return cmd, c
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const crashConfig = `
api: {socket: smsgw.sock}
store: {dir: data}
drivers:
  - {name: phone, type: sim, latency: 20ms, concurrency: 4, delivery_reports: true, delivery_delay: 50ms, outbox: outbox.jsonl}
policy:
  purposes:
    otp: {ttl: 1h, templates: [otp_code]}
  templates:
    otp_code:
      text: "Your code is {{.code}}."
      params: {code: {secret: true}}
`

// TestCrashWhileSubmitting kills the daemon with SIGKILL while 32 clients
// submit, restarts it, and checks that every acknowledged message is there
// and that none is left in "sending".
func TestCrashWhileSubmitting(t *testing.T) {
	dir := shortTempDir(t)
	cmd, c := startDaemon(t, dir, crashConfig)

	var mu sync.Mutex
	var acked []string
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	enough := make(chan struct{})
	var once sync.Once
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req := client.SubmitRequest{To: fmt.Sprintf("+336%08d", w*1000+i), Purpose: "otp", Params: map[string]string{"code": "123456"}}
				m, _, err := c.Submit(ctx, req, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					return // the daemon is gone
				}
				mu.Lock()
				acked = append(acked, m.ID)
				if len(acked) >= 300 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("clients made no progress")
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	stop()
	wg.Wait()

	_, c = startDaemon(t, dir, crashConfig)
	// Let the restarted daemon drain what was queued, so that anything
	// still in "sending" afterwards was left there by the crash.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.Stats(context.Background())
		must(t, err)
		if st.ByState["queued"] == 0 && st.ByState["sending"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain after restart: %v", st.ByState)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acked {
		m, err := c.Message(context.Background(), id)
		var p *client.Problem
		if errors.As(err, &p) {
			t.Fatalf("acknowledged message %s lost after the crash: %v", id, err)
		}
		must(t, err)
		if m.State == "sending" {
			t.Fatalf("message %s still in sending after restart", id)
		}
	}
	list, err := c.Messages(context.Background(), client.ListOptions{States: []string{"sending"}})
	must(t, err)
	if len(list.Messages) != 0 {
		t.Fatalf("%d messages left in sending", len(list.Messages))
	}
	// The simulated phone's outbox lists every SMS that left: none twice.
	out, err := os.ReadFile(filepath.Join(dir, "outbox.jsonl"))
	must(t, err)
	sent := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var rec struct{ ID string }
		if json.Unmarshal([]byte(line), &rec) == nil {
			sent[rec.ID]++
			if sent[rec.ID] > 1 {
				t.Fatalf("message %s was sent twice", rec.ID)
			}
		}
	}
	t.Logf("%d acknowledged messages all present after SIGKILL; %d sent, none twice", len(acked), len(sent))
}
