package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgw/daemon/client"
)

// rssKB reads a process's resident set size from /proc.
func rssKB(tb testing.TB, pid int, field string) int {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// settle is how long the daemon idles before a reading.
const settle = 30 * time.Second

const rssConfig = `
api: {socket: smsgw.sock}
store: {dir: data}
drivers:
  - {name: phone, type: sim, pacing: {max: "1/24h"}}
policy:
  purposes:
    otp: {ttl: 24h, templates: [otp_code]}
  templates:
    otp_code:
      text: "Your code is {{.code}}."
      params: {code: {secret: true}}
log: {level: warn}
`

// BenchmarkRSS measures the daemon process's memory idle and with 100k
// messages queued (dispatch paused by pacing). It runs once whatever b.N.
func BenchmarkRSS(b *testing.B) {
	dir := shortTempDir(b)
	cmd, c := startDaemon(b, dir, rssConfig)
	pid := cmd.Process.Pid
	time.Sleep(settle)
	b.ReportMetric(float64(rssKB(b, pid, "VmRSS"))/1024, "idle-MB")

	const queued = 100_000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > queued {
					return
				}
				req := client.SubmitRequest{To: fmt.Sprintf("+336%08d", i), Purpose: "otp", Params: map[string]string{"code": "123456"}}
				if _, _, err := c.Submit(context.Background(), req, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := c.Stats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	// Let compaction finish and Badger's allocator pool drain (it frees one
	// buffer every 2 s), as on a box that took a burst and now waits.
	time.Sleep(settle)
	b.ReportMetric(float64(st.QueueDepth), "queued")
	b.ReportMetric(float64(rssKB(b, pid, "VmRSS"))/1024, "queued-MB")
	b.ReportMetric(float64(rssKB(b, pid, "VmHWM"))/1024, "peak-MB")
	b.ReportMetric(float64(rssKB(b, pid, "RssAnon"))/1024, "anon-MB")
	b.ReportMetric(float64(rssKB(b, pid, "RssFile"))/1024, "file-MB")
	b.ReportMetric(float64(dirBytes(b, dir+"/data"))/(1<<20), "disk-MB")
	if os.Getenv("SMSGW_BENCH_PAUSE") != "" {
		fmt.Fprintf(os.Stderr, "daemon pid %d; dir %s; sleeping\n", pid, dir)
		time.Sleep(10 * time.Minute)
	}
}

func dirBytes(tb testing.TB, dir string) int64 {
	var total int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	return total
}
