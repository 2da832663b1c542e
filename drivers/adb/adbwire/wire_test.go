package adbwire_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"smsgw/drivers/adb/adbwire"
	"smsgw/drivers/adb/adbwire/adbtest"
)

// echoPhone answers a few commands.
type echoPhone struct{}

func (echoPhone) Shell(cmd string) ([]byte, []byte, int) {
	switch cmd {
	case "echo hi":
		return []byte("hi\n"), nil, 0
	case "false":
		return nil, nil, 1
	case "cut":
		return []byte("partial"), nil, -1
	}
	return nil, []byte(cmd + ": not found\n"), 127
}

func (echoPhone) DialTCP(int) (net.Conn, error) { return nil, errors.New("refused") }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func server(t *testing.T) *adbtest.Server {
	t.Helper()
	s, err := adbtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetDevice("V2", "device", []string{"shell_v2", "cmd"}, echoPhone{})
	s.SetDevice("OLD", "device", []string{"cmd"}, echoPhone{})
	s.SetDevice("LOCKED", "unauthorized", nil, echoPhone{})
	s.SetDevice("GONE", "offline", nil, echoPhone{})
	return s
}

func TestShell(t *testing.T) {
	c := adbwire.New(server(t).Addr())
	tests := []struct {
		serial, cmd string
		out         string
		code        int
		wantErr     bool
	}{
		{"V2", "echo hi", "hi\n", 0, false},
		{"V2", "false", "", 1, true},
		{"V2", "nosuch", "", 127, true},
		{"OLD", "echo hi", "hi\n", 0, false},
		{"OLD", "false", "", 1, true},
		{"OLD", "nosuch", "nosuch: not found\n", 127, true},
	}
	for _, tt := range tests {
		t.Run(tt.serial+"/"+tt.cmd, func(t *testing.T) {
			res, err := c.Device(tt.serial).Shell(ctx(t), tt.cmd)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var ee *adbwire.ExitError
			if tt.wantErr && (!errors.As(err, &ee) || ee.Code != tt.code) {
				t.Errorf("err = %v, want exit status %d", err, tt.code)
			}
			if res.ExitCode != tt.code || string(res.Stdout) != tt.out {
				t.Errorf("result = %q exit %d, want %q exit %d", res.Stdout, res.ExitCode, tt.out, tt.code)
			}
		})
	}
	t.Run("stream cut", func(t *testing.T) {
		for _, serial := range []string{"V2", "OLD"} {
			_, err := c.Device(serial).Shell(ctx(t), "cut")
			var ee *adbwire.ExitError
			if err == nil || errors.As(err, &ee) {
				t.Errorf("%s: err = %v, want a broken-stream error", serial, err)
			}
		}
	})
}

func TestTypedErrors(t *testing.T) {
	s := server(t)
	c := adbwire.New(s.Addr())
	tests := []struct {
		serial string
		want   error
	}{
		{"LOCKED", adbwire.ErrUnauthorized},
		{"GONE", adbwire.ErrOffline},
		{"NOSUCH", adbwire.ErrDeviceNotFound},
	}
	for _, tt := range tests {
		_, err := c.Device(tt.serial).Shell(ctx(t), "echo hi")
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.serial, err, tt.want)
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := adbwire.New(addr).Version(ctx(t)); !errors.Is(err, adbwire.ErrNoServer) {
		t.Errorf("Version with no server: %v, want ErrNoServer", err)
	}
}

func TestHostServices(t *testing.T) {
	s := server(t)
	c := adbwire.New(s.Addr())
	if v, err := c.Version(ctx(t)); err != nil || v != 41 {
		t.Errorf("Version = %d, %v", v, err)
	}
	devs, err := c.Devices(ctx(t))
	if err != nil || len(devs) != 4 || devs[0].Serial != "V2" || !devs[0].Online() || devs[2].State != "unauthorized" {
		t.Errorf("Devices = %+v, %v", devs, err)
	}
	d := c.Device("V2")
	port, err := d.Forward(ctx(t), "tcp:0", "tcp:8080")
	if err != nil || port == 0 {
		t.Fatalf("Forward = %d, %v", port, err)
	}
	fw, err := c.ListForwards(ctx(t))
	if err != nil || len(fw) != 1 || fw[0].Remote != "tcp:8080" {
		t.Errorf("ListForwards = %+v, %v", fw, err)
	}
	if err := d.KillForward(ctx(t), "tcp:"+itoa(port)); err != nil {
		t.Errorf("KillForward: %v", err)
	}
	var se *adbwire.ServerError
	if err := d.KillForward(ctx(t), "tcp:"+itoa(port)); !errors.As(err, &se) {
		t.Errorf("second KillForward: %v, want a server FAIL", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTrackDevices(t *testing.T) {
	s := server(t)
	c := adbwire.New(s.Addr())
	tctx, cancel := context.WithCancel(ctx(t))
	lists := make(chan []adbwire.DeviceInfo, 16)
	done := make(chan error, 1)
	go func() { done <- c.TrackDevices(tctx, func(d []adbwire.DeviceInfo) { lists <- d }) }()
	if first := <-lists; len(first) != 4 {
		t.Errorf("first list = %+v", first)
	}
	s.Remove("GONE")
	if next := <-lists; len(next) != 3 {
		t.Errorf("list after removal = %+v", next)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("TrackDevices after cancel: %v", err)
	}
}

func TestContextCancelsCall(t *testing.T) {
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := adbwire.New(ln.Addr().String()).Version(c); !errors.Is(err, context.Canceled) {
		t.Errorf("Version on a silent server: %v, want context.Canceled", err)
	}
}

func TestParseDevices(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []adbwire.DeviceInfo
	}{
		{"empty", "", nil},
		{"short", "R58M\tdevice\nemulator-5554\toffline\n", []adbwire.DeviceInfo{{Serial: "R58M", State: "device"}, {Serial: "emulator-5554", State: "offline"}}},
		{"long tcp", "127.0.0.1:40001        device product:fakeprod model:FakePhone device:fakedev transport_id:1\n",
			[]adbwire.DeviceInfo{{Serial: "127.0.0.1:40001", State: "device", Product: "fakeprod", Model: "FakePhone", Device: "fakedev", TransportID: 1}}},
		{"long usb unauthorized", "R58M12345              unauthorized usb:1-1.2 transport_id:7\n",
			[]adbwire.DeviceInfo{{Serial: "R58M12345", State: "unauthorized", USB: "1-1.2", TransportID: 7}}},
		{"no permissions", "R58M no permissions (user in plugdev group; are your udev rules wrong?); see [http://developer.android.com/tools/device.html] usb:1-1 transport_id:2\n",
			[]adbwire.DeviceInfo{{Serial: "R58M", State: "no permissions (user in plugdev group; are your udev rules wrong?); see [http://developer.android.com/tools/device.html]", USB: "1-1", TransportID: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := adbwire.ParseDevices(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadShellV2(t *testing.T) {
	// The bytes of `shell,v2,raw:echo hi` and of a missing command.
	var b []byte
	b = adbwire.AppendShellV2(b, adbwire.ShellStdout, []byte("hi\n"))
	b = adbwire.AppendShellV2(b, adbwire.ShellStderr, []byte("nosuchcmd: not found\n"))
	b = adbwire.AppendShellV2(b, adbwire.ShellExit, []byte{0x7f})
	var out, errb bytes.Buffer
	code, err := adbwire.ReadShellV2(oneByte{bytes.NewReader(b)}, &out, &errb)
	if err != nil || code != 127 || out.String() != "hi\n" || errb.String() != "nosuchcmd: not found\n" {
		t.Errorf("= %d %q %q %v", code, out.String(), errb.String(), err)
	}
	if _, err := adbwire.ReadShellV2(bytes.NewReader(b[:8]), &out, &errb); err == nil {
		t.Error("a truncated stream read without error")
	}
	if _, err := adbwire.ReadShellV2(bytes.NewReader(nil), &out, &errb); !errors.Is(err, adbwire.ErrNoExit) {
		t.Errorf("empty stream: %v, want ErrNoExit", err)
	}
}

// oneByte reads one byte at a time, as a slow connection may.
type oneByte struct{ r *bytes.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestExitMarker(t *testing.T) {
	tests := []struct {
		in   string
		out  string
		code int
		ok   bool
	}{
		{"hello\n\n__M:0\n", "hello\n", 0, true},
		{"hello\r\n\r\n__M:1\r\n", "hello\n", 1, true},
		{"no newline\n__M:127\n", "no newline", 127, true},
		{"cut off", "cut off", 0, false},
		{"__M:abc\n", "", 0, false},
	}
	for _, tt := range tests {
		out, code, ok := adbwire.SplitExitMarker([]byte(tt.in), "__M")
		if string(out) != tt.out || code != tt.code || ok != tt.ok {
			t.Errorf("SplitExitMarker(%q) = %q %d %v, want %q %d %v", tt.in, out, code, ok, tt.out, tt.code, tt.ok)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$x`y`": "'$x`y`'"} {
		if got := adbwire.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
