package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/daemon/client"
)

// startForBench runs the daemon in-process on a temporary directory.
func startForBench(tb testing.TB, driverYAML string) (*client.Client, string) {
	tb.Helper()
	dir, err := os.MkdirTemp("", "smsgw-bench")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	yaml := fmt.Sprintf(`
drivers:
  - %s
policy:
  purposes:
    otp: {ttl: 1h, templates: [otp_code]}
  templates:
    otp_code:
      text: "Your code is {{.code}}."
      params: {code: {secret: true}}
log: {level: error}
`, driverYAML)
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	cfg.Resolve(dir)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- RunWithHooks(ctx, cfg, slog.New(slog.DiscardHandler), Hooks{Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	socket := filepath.Join(dir, "smsgw.sock")
	return client.NewUnix(socket), socket
}

// submitAll sends n messages from 32 concurrent clients and returns each
// request's latency.
func submitAll(tb testing.TB, c *client.Client, n int) []time.Duration {
	const clients = 32
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req := client.SubmitRequest{To: fmt.Sprintf("+336%08d", i), Purpose: "otp", Params: map[string]string{"code": "123456"}}
				start := time.Now()
				if _, _, err := c.Submit(context.Background(), req, fmt.Sprintf("k-%d", i)); err != nil {
					tb.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	return lat
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkAccept measures durable accepts over the Unix socket at 32
// concurrent clients. Dispatch is paused by pacing so that only the accept
// path is measured: decode, policy, one synced Badger commit, answer.
func BenchmarkAccept(b *testing.B) {
	c, _ := startForBench(b, `{name: sim, type: sim, pacing: {max: "1/24h"}}`)
	b.ResetTimer()
	start := time.Now()
	lat := submitAll(b, c, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "accepts/s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkPipeline measures messages per second from submission to "sent"
// through the whole pipeline with an instant simulated phone.
func BenchmarkPipeline(b *testing.B) {
	c, _ := startForBench(b, `{name: sim, type: sim, concurrency: 16, delivery_reports: false}`)
	b.ResetTimer()
	start := time.Now()
	submitAll(b, c, b.N)
	for {
		st, err := c.Stats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.ByState["sent"] >= b.N {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
