package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// BenchmarkOptionProfiles writes the same load through Badger option
// profiles and reports throughput, disk use and peak resident memory: the
// measurements behind BadgerOptions (docs/store.md). Each message is one
// Create, as the API does it, from 32 goroutines.
func BenchmarkOptionProfiles(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	profiles := []struct {
		name string
		opts func(o badger.Options) badger.Options
	}{
		{"badger-defaults", func(o badger.Options) badger.Options {
			return badger.DefaultOptions(o.Dir).WithSyncWrites(true).WithLogger(badgerLogger{discard})
		}},
		{"smsgw", func(o badger.Options) badger.Options { return o }},
		{"smsgw-uncompressed", func(o badger.Options) badger.Options {
			return o.WithCompression(options.None).WithBlockCacheSize(0)
		}},
		{"smsgw-memtable-16M", func(o badger.Options) badger.Options {
			return o.WithMemTableSize(16 << 20)
		}},
	}
	const messages = 50_000
	for _, p := range profiles {
		b.Run(p.name, func(b *testing.B) {
			for range b.N {
				runtime.GC()
				debug.FreeOSMemory()
				resetPeakRSS(b)
				dir := b.TempDir()
				open := func() (*Store, error) {
					return Open(Options{Dir: dir, Retention: time.Hour, IdempotencyTTL: time.Hour, Log: discard, tune: p.opts})
				}
				s, err := open()
				if err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range 32 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= messages {
							m := newMessage(time.Now())
							idem := &Idempotency{Client: "local", Key: m.ID, Fingerprint: strings.Repeat("f", 64), Response: []byte(strings.Repeat("r", 600)), MessageID: m.ID}
							if err := s.Create(context.Background(), m, idem); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				peak := peakRSSMB(b)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(messages/elapsed.Seconds(), "creates/s")
				b.ReportMetric(peak, "peak-rss-MB")
				b.ReportMetric(float64(dirSize(b, dir))/(1<<20), "disk-MB")
				start = time.Now()
				s, err = open()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "reopen-ms")
				_ = s.Close()
			}
		})
	}
}

func resetPeakRSS(tb testing.TB) {
	// Writing 5 to clear_refs resets the peak resident size (VmHWM).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Skipf("cannot reset peak RSS: %v", err)
	}
}

func peakRSSMB(tb testing.TB) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return float64(kb) / 1024
		}
	}
	return 0
}

func dirSize(tb testing.TB, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			// Blocks, not the apparent size: Badger preallocates files.
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(fmt.Errorf("size of %s: %w", dir, err))
	}
	return total
}
