package adb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"smsgw/drivers"
)

// TestISMSPerAndroidVersion sends through each recorded Android version:
// the layout matches what the phone expects and awkward text arrives intact.
// Android 6 has no shell v2, so its commands go over plain shell with the
// exit marker.
func TestISMSPerAndroidVersion(t *testing.T) {
	text := "It's 5 $HOME `id` \"q\" \\ ; done\nline two"
	for _, v := range []struct {
		dir string
		sdk int
	}{{"android14", 34}, {"android9", 28}, {"android6", 23}} {
		t.Run(v.dir, func(t *testing.T) {
			r := newRig(t, v.dir, v.sdk)
			d := r.open(t, r.options(ModeISMS))
			rc, err := d.Send(testCtx(t), message("01ISMS"+v.dir, "+32470123456", text))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if rc.DeliveryReports || rc.Parts != 1 || rc.Ref == "" {
				t.Errorf("receipt = %+v, want one part, a ref and no delivery reports", rc)
			}
			sent := r.phone.sentSMS()
			if len(sent) != 1 || sent[0].Dest != "+32470123456" || sent[0].Text != text {
				t.Fatalf("phone sent %+v", sent)
			}
			if _, ok := d.(drivers.StatusQuerier); ok {
				t.Error("isms mode claims to answer status queries: it cannot know what became of a send")
			}
		})
	}
}

func TestISMSOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		force outcome
		class drivers.Class
		code  string
	}{
		{"security exception", ismsSecurity, drivers.ClassPermanent, CodeISMSDenied},
		{"illegal state", ismsIllegalState, drivers.ClassTransient, CodeISMSException},
		{"stream cut", ismsCut, drivers.ClassUncertain, CodeISMSNoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, "android14", 34)
			d := r.open(t, r.options(ModeISMS))
			r.phone.force(tt.force)
			_, err := d.Send(testCtx(t), message("01X", "+32470123456", "hi"))
			if de := classOf(t, err); de.Class != tt.class || de.Code != tt.code {
				t.Errorf("error %v, want %s %s", err, tt.class, tt.code)
			}
		})
	}
	t.Run("multipart refused", func(t *testing.T) {
		r := newRig(t, "android14", 34)
		d := r.open(t, r.options(ModeISMS))
		m := message("01M", "+32470123456", "a")
		m.Segments.Parts = []string{"a", "b"}
		_, err := d.Send(testCtx(t), m)
		if de := classOf(t, err); de.Class != drivers.ClassPermanent || de.Code != CodeMultipart {
			t.Errorf("error %v, want permanent %s", err, CodeMultipart)
		}
		if len(r.phone.sentSMS()) != 0 {
			t.Error("a multipart message reached the phone")
		}
	})
}

// TestNotReady: each reason the phone cannot send is transient and named.
func TestNotReady(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *rig)
		code  string
	}{
		{"unplugged", func(r *rig) { r.srv.Remove(serial) }, CodeNoDevice},
		{"unauthorized", func(r *rig) { r.srv.SetState(serial, "unauthorized") }, CodeUnauthorized},
		{"offline", func(r *rig) { r.srv.SetState(serial, "offline") }, CodeOffline},
		{"booting", func(r *rig) { r.phone.setBooted(false) }, CodeBooting},
		{"no SIM", func(r *rig) { r.phone.setSIM("ABSENT") }, CodeSIMNotReady},
		{"PIN", func(r *rig) { r.phone.setSIM("PIN_REQUIRED") }, CodeSIMNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, "android14", 34)
			tt.setup(r)
			d := r.open(t, r.options(ModeISMS))
			_, err := d.Send(testCtx(t), message("01N", "+32470123456", "hi"))
			de := classOf(t, err)
			if de.Class != drivers.ClassTransient || de.Code != tt.code || de.RetryAfter <= 0 {
				t.Errorf("error %v (retry after %v), want transient %s with a retry floor", err, de.RetryAfter, tt.code)
			}
			if len(r.phone.sentSMS()) != 0 {
				t.Error("the phone sent while not ready")
			}
		})
	}
	t.Run("no server", func(t *testing.T) {
		r := newRig(t, "android14", 34)
		o := r.options(ModeISMS)
		o.Server = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		d := r.open(t, o)
		_, err := d.Send(testCtx(t), message("01S", "+32470123456", "hi"))
		if de := classOf(t, err); de.Class != drivers.ClassTransient || de.Code != CodeNoServer {
			t.Errorf("error %v, want transient %s", err, CodeNoServer)
		}
	})
}

// TestRebootMidQueue reboots the phone in the middle of a queue in forward
// mode: every message reaches the app exactly once, sends during the reboot
// fail as transient (nothing left), and the forward comes back on the same
// local port.
func TestRebootMidQueue(t *testing.T) {
	r := newRig(t, "android14", 34)
	app := r.withApp(t)
	d := r.open(t, r.options(ModeForward))
	ctx := testCtx(t)
	send := func(i int) error {
		_, err := d.Send(ctx, message(fmt.Sprintf("01REBOOT%018d", i), "+32470123456", "code 1234"))
		return err
	}
	const n = 10
	var pending []int
	for i := range n {
		if i == 4 {
			r.srv.Remove(serial) // unplugged: the server drops the forward
			r.phone.reboot()
			eventually(t, "the driver notices the phone left", func() bool { return !d.(forwardDriver).isReady() })
		}
		if i == 7 {
			r.srv.SetDevice(serial, "device", []string{"shell_v2"}, r.phone)
			// Online but not booted: still not ready, no forward.
			if err := send(i); err == nil || drivers.Classify(err).Code != CodeBooting {
				t.Fatalf("send while booting: %v, want %s", err, CodeBooting)
			}
			pending = append(pending, i)
			i++
			r.phone.setBooted(true)
			eventually(t, "the driver prepares the rebooted phone", func() bool { return d.(forwardDriver).isReady() })
		}
		if i >= n {
			break
		}
		err := send(i)
		switch {
		case err == nil:
		case drivers.Classify(err).Class == drivers.ClassTransient:
			pending = append(pending, i)
		default:
			t.Fatalf("message %d: %v, want success or a transient failure", i, err)
		}
	}
	// The dispatcher would retry the transient ones.
	for _, i := range pending {
		if err := send(i); err != nil {
			t.Fatalf("retry of %d: %v", i, err)
		}
	}
	for i := range n {
		if got := app.Received(fmt.Sprintf("01REBOOT%018d", i)); got != 1 {
			t.Errorf("message %d reached the app %d times, want exactly once", i, got)
		}
	}
	if fw := r.srv.Forwards(serial); len(fw) != 1 || fw[0] != d.(forwardDriver).forwardPort {
		t.Errorf("forwards after reboot = %v, want the driver's port %d", fw, d.(forwardDriver).forwardPort)
	}
}

// TestRebootNoticedByBootID: a reboot between polls that the device list
// never shows is caught by the boot id.
func TestRebootNoticedByBootID(t *testing.T) {
	r := newRig(t, "android14", 34)
	r.withApp(t)
	d := r.open(t, r.options(ModeForward)).(forwardDriver)
	if _, err := d.Send(testCtx(t), message("01B1", "+32470123456", "x")); err != nil {
		t.Fatal(err)
	}
	r.phone.reboot()
	eventually(t, "reboot noticed", func() bool { return !d.isReady() })
	r.phone.setBooted(true)
	eventually(t, "phone prepared again", func() bool { return d.isReady() })
	if len(r.srv.Forwards(serial)) != 1 {
		t.Errorf("forwards = %v", r.srv.Forwards(serial))
	}
}

func TestHealthFixtures(t *testing.T) {
	tests := []struct {
		dir      string
		sdk      int
		state    drivers.DeviceState
		percent  int
		charging bool
		dbm      int
		operator string
		detail   []string
	}{
		{"android14", 34, drivers.StateReady, 84, true, -98, "Orange F", nil},
		{"android9", 28, drivers.StateDegraded, 90, false, -87, "Proximus", []string{"Doze"}},
		{"android6", 23, drivers.StateDegraded, 12, false, -85, "BASE", []string{"battery low", "battery hot", "storage low"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			r := newRig(t, tt.dir, tt.sdk)
			r.withApp(t)
			d := r.open(t, r.options(ModeForward))
			h, err := d.(drivers.HealthChecker).Health(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if h.State != tt.state || h.Battery == nil || h.Battery.Percent != tt.percent || h.Battery.Charging != tt.charging ||
				h.SignalDBm == nil || *h.SignalDBm != tt.dbm || h.SIM != "READY" || h.Operator != tt.operator {
				t.Errorf("Health = %+v (battery %+v)", h, h.Battery)
			}
			for _, w := range tt.detail {
				if !strings.Contains(h.Detail, w) {
					t.Errorf("detail %q does not mention %q", h.Detail, w)
				}
			}
		})
	}
	t.Run("airplane mode", func(t *testing.T) {
		r := newRig(t, "android14", 34)
		r.phone.set("airplane_mode_on", "1")
		d := r.open(t, r.options(ModeISMS))
		h, _ := d.(drivers.HealthChecker).Health(testCtx(t))
		if h.State != drivers.StateDown || !strings.Contains(h.Detail, "airplane") {
			t.Errorf("Health = %+v", h)
		}
	})
	t.Run("unplugged", func(t *testing.T) {
		r := newRig(t, "android14", 34)
		r.srv.Remove(serial)
		d := r.open(t, r.options(ModeISMS))
		h, err := d.(drivers.HealthChecker).Health(testCtx(t))
		if err != nil || h.State != drivers.StateDown || h.CheckedAt.IsZero() {
			t.Errorf("Health = %+v, %v", h, err)
		}
	})
}

func TestSMSLimitWarning(t *testing.T) {
	tests := []struct {
		name   string
		limit  string
		pacing Pacing
		warn   bool
	}{
		{"default limit, slow pacing", "", Pacing{Count: 30, Window: 30 * time.Minute}, false},
		{"default limit, no pacing", "", Pacing{}, true},
		{"default limit, every second", "", Pacing{Every: time.Second}, true},
		{"raised limit", "100", Pacing{Every: time.Second}, false},
		{"lowered limit", "5", Pacing{Count: 10, Window: time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, "android14", 34)
			if tt.limit != "" {
				r.phone.set("sms_outgoing_check_max_count", tt.limit)
			}
			o := r.options(ModeISMS)
			o.Pacing = tt.pacing
			d := r.open(t, o)
			dg := d.(drivers.Diagnoser).Diagnose(testCtx(t))
			var got *drivers.Check
			for i := range dg.Checks {
				if dg.Checks[i].Name == "SMS limit" {
					got = &dg.Checks[i]
				}
			}
			if got == nil {
				t.Fatalf("no SMS limit check in %+v", dg.Checks)
			}
			if (got.Status == drivers.CheckWarn) != tt.warn {
				t.Errorf("SMS limit check = %+v, want warning %v", got, tt.warn)
			}
		})
	}
}

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(r *rig)
		ok      bool
		failing string
	}{
		{"healthy", func(*rig) {}, true, ""},
		{"not plugged", func(r *rig) { r.srv.Remove(serial) }, false, "phone"},
		{"unauthorized", func(r *rig) { r.srv.SetState(serial, "unauthorized") }, false, "phone"},
		{"SIM locked", func(r *rig) { r.phone.setSIM("PIN_REQUIRED") }, false, "SIM"},
		{"app not running", func(r *rig) { r.phone.appAddr = "" }, false, "gateway app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, "android14", 34)
			r.withApp(t)
			tt.setup(r)
			d := r.open(t, r.options(ModeForward))
			dg := d.(drivers.Diagnoser).Diagnose(testCtx(t))
			if dg.OK != tt.ok || dg.Verdict == "" {
				t.Fatalf("Diagnose = %+v, want OK %v", dg, tt.ok)
			}
			if tt.failing == "" {
				return
			}
			for _, c := range dg.Checks {
				if c.Status == drivers.CheckFail {
					if c.Name != tt.failing || c.Fix == "" {
						t.Errorf("first failing check = %+v, want %q with a fix", c, tt.failing)
					}
					return
				}
			}
			t.Errorf("no failing check in %+v", dg.Checks)
		})
	}
}
