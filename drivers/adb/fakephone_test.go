package adb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"smsgw/drivers/adb/adbwire/adbtest"
)

// fixtures is where the recorded device outputs live.
const fixtures = "../../testdata/adb"

// outcome is how the simulated phone answers the next isms call.
type outcome int

const (
	ismsOK outcome = iota
	ismsSecurity
	ismsIllegalState
	ismsCut   // the stream ends without an exit status
	ismsStall // held until released, then sent
)

// ismsCall is one `service call isms` the phone received.
type ismsCall struct {
	Code       int
	Types      []string
	Dest, Text string
}

// fakePhone answers shell commands from the fixtures of one Android
// version and remembers the SMS it was asked to send.
type fakePhone struct {
	t   testing.TB
	dir string
	sdk int

	mu       sync.Mutex
	booted   bool
	sim      string
	bootID   int
	settings map[string]string
	sent     []ismsCall
	next     []outcome
	stalled  chan struct{} // closed when a stalled call arrives
	release  chan struct{}
	appAddr  string // the gateway app's address, served for tcp:8080
}

func newFakePhone(t testing.TB, version string, sdk int) *fakePhone {
	p := &fakePhone{t: t, dir: filepath.Join(fixtures, version), sdk: sdk, booted: true, sim: "READY", bootID: 1,
		settings: map[string]string{"airplane_mode_on": "0"}, release: make(chan struct{})}
	t.Cleanup(p.unstall)
	return p
}

func (p *fakePhone) fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.t.Errorf("fixture: %v", err)
	}
	return b
}

// force queues the outcome of the next isms call.
func (p *fakePhone) force(o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o == ismsStall {
		p.stalled = make(chan struct{})
	}
	p.next = append(p.next, o)
}

// unstall lets every held call finish.
func (p *fakePhone) unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// waitStalled returns once a stalled call arrived.
func (p *fakePhone) waitStalled(ctx context.Context) error {
	p.mu.Lock()
	ch := p.stalled
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reboot restarts the phone: a new boot id, not booted yet.
func (p *fakePhone) reboot() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bootID++
	p.booted = false
}

func (p *fakePhone) setBooted(b bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.booted = b
}

func (p *fakePhone) setSIM(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sim = s
}

func (p *fakePhone) set(key, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settings[key] = value
}

func (p *fakePhone) sentSMS() []ismsCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

// Shell answers one command line.
func (p *fakePhone) Shell(cmd string) ([]byte, []byte, int) {
	p.mu.Lock()
	booted, sim, bootID := p.booted, p.sim, p.bootID
	p.mu.Unlock()
	switch {
	case cmd == "getprop":
		out := p.fixture("getprop.txt")
		bc := "0"
		if booted {
			bc = "1"
		}
		return fmt.Appendf(out, "[ro.build.version.sdk]: [%d]\n[sys.boot_completed]: [%s]\n[gsm.sim.state]: [%s,ABSENT]\n", p.sdk, bc, sim), nil, 0
	case cmd == "cat /proc/sys/kernel/random/boot_id":
		return fmt.Appendf(nil, "6a3c1d2e-0000-4000-8000-%012d\n", bootID), nil, 0
	case cmd == "dumpsys battery":
		return p.fixture("battery.txt"), nil, 0
	case cmd == "dumpsys telephony.registry":
		return p.fixture("telephony_registry.txt"), nil, 0
	case cmd == "df -k /data" || cmd == "df /data":
		return p.fixture("df.txt"), nil, 0
	case cmd == "dumpsys deviceidle whitelist":
		return p.fixture("deviceidle_whitelist.txt"), nil, 0
	case cmd == "dumpsys isub":
		return p.fixture("isub.txt"), nil, 0
	case strings.HasPrefix(cmd, "settings get global "):
		p.mu.Lock()
		v, ok := p.settings[strings.TrimPrefix(cmd, "settings get global ")]
		p.mu.Unlock()
		if !ok {
			v = "null"
		}
		return []byte(v + "\n"), nil, 0
	case strings.HasPrefix(cmd, "service call isms "):
		return p.isms(cmd)
	}
	return nil, fmt.Appendf(nil, "/system/bin/sh: %s: not found\n", strings.Fields(cmd + " x")[0]), 127
}

// wantTypes is the argument layout of sendTextForSubscriber per Android
// version, written out independently of ismsCommand.
func (p *fakePhone) wantLayout() (int, []string) {
	switch {
	case p.sdk >= 30:
		return 5, []string{"i32", "i32", "i32", "s16", "i32", "s16", "i32", "i32", "i32", "i64"}
	case p.sdk >= 23:
		return 6, []string{"i32", "s16", "s16", "i32", "s16", "i32", "i32", "i32"}
	}
	return 9, []string{"s16", "s16", "i32", "s16", "i32", "i32"}
}

func (p *fakePhone) isms(cmd string) ([]byte, []byte, int) {
	words, err := shellWords(strings.TrimPrefix(cmd, "service call isms "))
	if err != nil || len(words) < 1 {
		return nil, []byte("service: bad arguments\n"), 1
	}
	code, _ := strconv.Atoi(words[0])
	call := ismsCall{Code: code}
	var s16 []string
	for i := 1; i+1 < len(words); i += 2 {
		call.Types = append(call.Types, words[i])
		if words[i] == "s16" {
			s16 = append(s16, words[i+1])
		}
	}
	wantCode, wantTypes := p.wantLayout()
	if code != wantCode || !slices.Equal(call.Types, wantTypes) {
		// A layout the phone does not expect reads garbage.
		return []byte("Result: Parcel(fffffffd 00000000 '........')\n"), nil, 0
	}
	if len(s16) >= 2 {
		call.Dest, call.Text = s16[len(s16)-2], s16[len(s16)-1]
	}
	p.mu.Lock()
	o := ismsOK
	if len(p.next) > 0 {
		o, p.next = p.next[0], p.next[1:]
	}
	stalled, release := p.stalled, p.release
	p.mu.Unlock()
	switch o {
	case ismsSecurity:
		return []byte("Result: Parcel(ffffffff 0000002b 00650053 00750063 00690072 00790074 '....+...S.e.c.u.r.i.t.y.')\n"), nil, 0
	case ismsIllegalState:
		return []byte("Result: Parcel(fffffffb 00000000 '........')\n"), nil, 0
	case ismsCut:
		return nil, nil, -1
	case ismsStall:
		close(stalled)
		<-release
		return nil, nil, -1
	}
	p.mu.Lock()
	p.sent = append(p.sent, call)
	p.mu.Unlock()
	return []byte("Result: Parcel(00000000    '....')\n"), nil, 0
}

// DialTCP connects tcp:8080 to the gateway app.
func (p *fakePhone) DialTCP(port int) (net.Conn, error) {
	p.mu.Lock()
	addr := p.appAddr
	p.mu.Unlock()
	if port != 8080 || addr == "" {
		return nil, fmt.Errorf("connection refused on port %d", port)
	}
	return net.Dial("tcp", addr)
}

// shellWords splits a command line the way sh would for the quoting
// adbwire.Quote produces: words separated by spaces, '…' literal, and
// '\” an escaped quote.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\'' {
				inQuote = false
			} else {
				cur.WriteByte(c)
			}
		case c == '\'':
			inQuote, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

var _ adbtest.Phone = (*fakePhone)(nil)
