package drivertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
)

// fake is a minimal driver with no optional capabilities. Its flaws, when
// set, are the defects the suite must catch.
type fake struct {
	flaw string

	mu     sync.Mutex
	n      int
	force  drivers.Class
	stall  chan struct{} // closed when a stalled Send is in flight
	closed bool
	leak   chan struct{}
}

func (f *fake) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	f.mu.Lock()
	force, stall, closed := f.force, f.stall, f.closed
	f.force, f.stall = "", nil
	f.n++
	n := f.n
	f.mu.Unlock()

	if f.flaw == "leak" {
		go func() { <-f.leak }()
	}
	if f.flaw != "ignores-close" && closed {
		return drivers.Receipt{}, drivers.Transient("closed", "", nil)
	}
	if stall != nil {
		close(stall)
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		if f.flaw == "plain-errors" {
			return drivers.Receipt{}, err
		}
		return drivers.Receipt{}, drivers.Transient("cancelled", "", err)
	}
	if f.flaw != "sends-expired" && !m.ExpiresAt.IsZero() && time.Now().After(m.ExpiresAt) {
		return drivers.Receipt{}, drivers.Permanent("expired", "", nil)
	}
	switch {
	case force == "":
	case f.flaw == "ignores-force":
	case f.flaw == "wrong-class":
		return drivers.Receipt{}, drivers.Transient("forced", "", nil)
	default:
		return drivers.Receipt{}, &drivers.Error{Class: force, Code: "forced"}
	}
	if f.flaw == "empty-receipt" {
		return drivers.Receipt{}, nil
	}
	return drivers.Receipt{Ref: fmt.Sprintf("fake-%d", n), Parts: 1}, nil
}

func (f *fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed && f.flaw == "close-twice-fails" {
		return errors.New("already closed")
	}
	f.closed = true
	return nil
}

func harness(flaw string) Harness {
	return Harness{
		New: func(*testing.T) drivers.Driver { return &fake{flaw: flaw, leak: make(chan struct{})} },
		Force: func(_ *testing.T, d drivers.Driver, c drivers.Class) {
			f := d.(*fake)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.force = c
		},
		Stall: func(_ *testing.T, d drivers.Driver) func(context.Context) error {
			f := d.(*fake)
			ch := make(chan struct{})
			f.mu.Lock()
			f.stall = ch
			f.mu.Unlock()
			return func(ctx context.Context) error {
				select {
				case <-ch:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		},
		HangGuard: 2 * time.Second,
	}
}

func TestSuitePassesMinimalDriver(t *testing.T) {
	Run(t, harness(""))
}

// TestSuiteCatchesFlaws runs the suite against flawed fakes in a child
// process and checks that it fails, and for the right reason.
func TestSuiteCatchesFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child test processes")
	}
	tests := []struct {
		flaw string
		want string
	}{
		{"plain-errors", "is not a *drivers.Error"},
		{"ignores-force", "nil error, want a classified failure"},
		{"wrong-class", `class = "transient", want "permanent"`},
		{"sends-expired", "nil error, want a classified failure"},
		{"empty-receipt", "Receipt.Ref is empty"},
		{"close-twice-fails", "Close must be idempotent"},
		{"ignores-close", "Send after Close returned a nil error"},
		{"leak", "goroutines still running"},
	}
	for _, tt := range tests {
		t.Run(tt.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedDriverChild$", "-test.v")
			cmd.Env = append(os.Environ(), "DRIVERTEST_FLAW="+tt.flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("child run with flaw %s: err = %v, want a failing exit\n%s", tt.flaw, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("child output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestFlawedDriverChild is the child side of TestSuiteCatchesFlaws.
func TestFlawedDriverChild(t *testing.T) {
	flaw := os.Getenv("DRIVERTEST_FLAW")
	if flaw == "" {
		t.Skip("only run as a child of TestSuiteCatchesFlaws")
	}
	Run(t, harness(flaw))
}
