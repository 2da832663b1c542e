package adb

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
	"smsgw/drivers/adb/adbwire/adbtest"
)

// freePort returns a loopback port nobody listens on, outside the range
// the adb server probes for emulators.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p < 5555 || p > 5585 {
			return p
		}
	}
	t.Fatal("no free port outside 5555-5585")
	return 0
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIntegrationRealADBServer drives the driver through Debian's adb
// server: a private server on a free port with a temporary HOME, and a
// simulated phone that speaks the device transport protocol, attached with
// `adb connect`. It skips when adb is not installed, unless
// SMSGW_REQUIRE_INTEGRATION=1, where it fails.
func TestIntegrationRealADBServer(t *testing.T) {
	adbPath, err := exec.LookPath("adb")
	if err != nil {
		if os.Getenv("SMSGW_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("adb is not installed and SMSGW_REQUIRE_INTEGRATION=1: %v (apt-get install adb)", err)
		}
		t.Skipf("adb is not installed (%v); apt-get install adb to run this test", err)
	}
	ctx := testCtx(t)

	// The server, stopped by PID.
	port := freePort(t)
	var serverLog syncBuffer
	srv := exec.Command(adbPath, "-P", strconv.Itoa(port), "nodaemon", "server")
	srv.Env = append(os.Environ(), "HOME="+t.TempDir(), "ANDROID_ADB_SERVER_PORT="+strconv.Itoa(port))
	srv.Stdout, srv.Stderr = &serverLog, &serverLog
	if err := srv.Start(); err != nil {
		t.Fatalf("start adb server: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("adb server output:\n%s", serverLog.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	client := adbwire.New(addr)
	var version int
	eventually(t, "adb server answers", func() bool {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		version, err = client.Version(c)
		return err == nil
	})
	t.Logf("adb server protocol %d", version)

	// The simulated phone, with a gateway app on its port 8080.
	phone := newFakePhone(t, "android14", 34)
	r := &rig{phone: phone}
	app := r.withApp(t)
	adbd := &adbtest.Adbd{Phone: phone, Features: []string{"shell_v2", "cmd", "stat_v2"}}
	if err := adbd.Listen(); err != nil {
		t.Fatal(err)
	}
	if p := adbd.Addr(); strings.HasSuffix(p, ":5555") {
		t.Fatalf("fake phone landed on an emulator port %s", p)
	}
	// Registered after the server's cleanup, so it runs first.
	t.Cleanup(func() { adbd.Close() })
	msg, err := client.Connect(ctx, adbd.Addr())
	if err != nil {
		t.Fatalf("adb connect: %v", err)
	}
	t.Logf("adb connect: %s", msg)
	serial := adbd.Addr()
	dev := client.Device(serial)
	eventually(t, "phone online", func() bool {
		st, err := dev.State(ctx)
		return err == nil && st == "device"
	})

	t.Run("Wire", func(t *testing.T) {
		devs, err := client.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 || devs[0].Serial != serial || devs[0].Model != "FakePhone" || devs[0].TransportID == 0 {
			t.Errorf("devices = %+v", devs)
		}
		fs, err := dev.Features(ctx)
		if err != nil || !strings.Contains(strings.Join(fs, ","), "shell_v2") {
			t.Errorf("features = %v, %v", fs, err)
		}
		res, err := dev.Shell(ctx, "cat /proc/sys/kernel/random/boot_id")
		if err != nil || !strings.HasPrefix(string(res.Stdout), "6a3c1d2e") {
			t.Errorf("shell v2 = %q, %v", res.Stdout, err)
		}
		_, err = dev.Shell(ctx, "nosuchcmd")
		var ee *adbwire.ExitError
		if !errors.As(err, &ee) || ee.Code != 127 {
			t.Errorf("shell v2 of a missing command: %v, want exit status 127", err)
		}
		cmd, err := dev.StartPlain(ctx, "nosuchcmd")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); !errors.As(err, &ee) || ee.Code != 127 {
			t.Errorf("plain shell of a missing command: %v, want exit status 127 from the marker", err)
		}
		out, err := dev.Exec(ctx, "getprop")
		if err != nil || !strings.Contains(string(out), "[ro.build.version.sdk]: [34]") {
			t.Errorf("exec getprop = %q, %v", out, err)
		}
		if _, err := client.Device("nosuch").State(ctx); !errors.Is(err, adbwire.ErrDeviceNotFound) {
			t.Errorf("state of an unknown serial: %v, want ErrDeviceNotFound", err)
		}
	})

	opts := func(mode Mode) Options { return r.optionsFor(addr, serial, mode) }

	t.Run("Forward", func(t *testing.T) {
		d, err := New("usb", opts(ModeForward), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		m := message("01INTEGRATIONFORWARD0000001", "+33612345678", "Your code is 123456")
		rc, err := d.Send(ctx, m)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !rc.DeliveryReports || app.Received(m.ID) != 1 {
			t.Errorf("receipt %+v, app received %d", rc, app.Received(m.ID))
		}
		fw, err := client.ListForwards(ctx)
		if err != nil || len(fw) != 1 || fw[0].Serial != serial || fw[0].Remote != "tcp:8080" {
			t.Errorf("forwards = %+v, %v", fw, err)
		}
		st, err := d.(drivers.StatusQuerier).Status(ctx, m.ID, rc.Ref)
		if err != nil || st.State == drivers.SendNotFound {
			t.Errorf("Status = %+v, %v", st, err)
		}
		dg := d.(drivers.Diagnoser).Diagnose(ctx)
		if !dg.OK {
			t.Errorf("Diagnose: %+v", dg)
		}
		d.Close()
		if fw, _ := client.ListForwards(ctx); len(fw) != 0 {
			t.Errorf("forwards after Close = %+v, want none", fw)
		}
	})

	t.Run("ISMS", func(t *testing.T) {
		d, err := New("usb", opts(ModeISMS), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		text := "It's 5 $HOME \"quoted\"\nnext line"
		rc, err := d.Send(ctx, message("01INTEGRATIONISMS000000001", "+33612345678", text))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if rc.DeliveryReports {
			t.Error("isms promised delivery reports")
		}
		sent := phone.sentSMS()
		if len(sent) != 1 || sent[0].Dest != "+33612345678" || sent[0].Text != text {
			t.Errorf("phone sent %+v", sent)
		}
		h, err := d.(drivers.HealthChecker).Health(ctx)
		if err != nil || h.State != drivers.StateReady || h.SIM != "READY" || h.Battery == nil || h.Battery.Percent != 84 {
			t.Errorf("Health = %+v, %v", h, err)
		}
	})

	t.Run("ForwardAppDown", func(t *testing.T) {
		phone.mu.Lock()
		appAddr := phone.appAddr
		phone.appAddr = ""
		phone.mu.Unlock()
		defer func() {
			phone.mu.Lock()
			phone.appAddr = appAddr
			phone.mu.Unlock()
		}()
		if c, err := dev.OpenTCP(ctx, 8080); err == nil {
			c.Close()
			t.Fatal("OpenTCP to a port nobody listens on succeeded")
		} else if errors.Is(err, adbwire.ErrAfterRequestSent) {
			t.Logf("the real server did not FAIL a refused tcp: service: %v", err)
		}
		d, err := New("usb", opts(ModeForward), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		_, err = d.Send(ctx, message("01INTEGRATIONNOAPP00000001", "+33612345678", "hi"))
		if de := drivers.Classify(err); de == nil || de.Class != drivers.ClassTransient || de.Code != CodeAppUnreachable {
			t.Errorf("app not running: Send = %v; want transient %s", err, CodeAppUnreachable)
		}
	})
}
