package builtin

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/sim"
)

func TestEveryTypeBuildsFromMinimalConfig(t *testing.T) {
	if len(Factories) == 0 {
		t.Fatal("no factories")
	}
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			d, err := Open(context.Background(), config.Driver{Name: "minimal-" + typ, Type: typ}, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if d == nil {
				t.Fatal("Open returned a nil driver")
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestOpenUnknownType(t *testing.T) {
	_, err := Open(context.Background(), config.Driver{Name: "phone", Type: "pigeon"}, nil)
	if err == nil {
		t.Fatal("Open of an unknown type succeeded")
	}
	for _, want := range append([]string{`"pigeon"`}, Types()...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestOpenWrapsFactoryError(t *testing.T) {
	cfg := config.Driver{Name: "bad", Type: "sim", Failures: config.Failures{Transient: 2}}
	_, err := Open(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "sim driver") || !strings.Contains(err.Error(), "transient probability") {
		t.Errorf("Open = %v, want an error naming the type and the bad option", err)
	}
}

// TestTypesMatchConfig keeps this map and the configuration's table of
// driver types in step.
func TestTypesMatchConfig(t *testing.T) {
	known := slices.Sorted(slices.Values(config.KnownDriverTypes))
	if !slices.Equal(Types(), known) {
		t.Errorf("builtin types %v, config knows %v", Types(), known)
	}
}

func TestTypesSorted(t *testing.T) {
	types := Types()
	if len(types) != len(Factories) {
		t.Fatalf("Types() has %d entries, Factories %d", len(types), len(Factories))
	}
	for i := 1; i < len(types); i++ {
		if types[i-1] >= types[i] {
			t.Errorf("Types() not sorted: %v", types)
		}
	}
}

func TestSimMapping(t *testing.T) {
	off, on := false, true
	tests := []struct {
		name string
		cfg  config.Driver
		want sim.Options
	}{
		{"minimal", config.Driver{}, sim.Options{DeliveryReports: true}},
		{"reports on", config.Driver{DeliveryReports: &on}, sim.Options{DeliveryReports: true}},
		{"reports off", config.Driver{DeliveryReports: &off}, sim.Options{}},
		{
			"everything",
			config.Driver{
				Latency:         config.Duration{Duration: 2 * time.Second},
				Failures:        config.Failures{Transient: 0.1, Permanent: 0.2, Uncertain: 0.3, Undelivered: 0.4},
				DeliveryReports: &off,
				DeliveryDelay:   config.Duration{Duration: 5 * time.Second},
				Outbox:          "OUTBOX",
				Concurrency:     3,
			},
			sim.Options{
				Latency:   2 * time.Second,
				Transient: 0.1, Permanent: 0.2, Uncertain: 0.3, Undelivered: 0.4,
				DeliveryDelay: 5 * time.Second,
				OutboxPath:    "OUTBOX",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Name, cfg.Type = "mapped", "sim"
			want := tt.want
			if cfg.Outbox != "" {
				cfg.Outbox = filepath.Join(t.TempDir(), "outbox.jsonl")
				want.OutboxPath = cfg.Outbox
			}
			d, err := Open(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer func() { _ = d.Close() }()
			sd, ok := d.(*sim.Driver)
			if !ok {
				t.Fatalf("Open returned %T, want *sim.Driver", d)
			}
			if got := sd.Options(); !reflect.DeepEqual(got, want) {
				t.Errorf("options = %+v, want %+v", got, want)
			}
		})
	}
}

func TestOpenedSimSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	cfg := config.Driver{Name: "e2e", Type: "sim", Outbox: path, DeliveryDelay: config.Duration{Duration: time.Hour}}
	d, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r, err := d.Send(context.Background(), &drivers.Outbound{ID: "m1", To: "+33612345678", Text: "hello", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !r.DeliveryReports || r.Ref == "" {
		t.Errorf("receipt = %+v, want a ref and delivery reports", r)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	if !strings.Contains(string(raw), `"id":"m1"`) || strings.Contains(string(raw), "hello") {
		t.Errorf("outbox = %q, want m1 without its text", raw)
	}
}
