package adbwire_test

import (
	"bytes"
	"io"
	"testing"

	"smsgw/drivers/adb/adbwire"
)

func FuzzParseDevices(f *testing.F) {
	f.Add("R58M\tdevice\n")
	f.Add("127.0.0.1:40001        device product:fakeprod model:FakePhone device:fakedev transport_id:1\n")
	f.Add("R58M no permissions (x); see [http://d.a.c/t] usb:1-1 transport_id:2\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range adbwire.ParseDevices(s) {
			if d.Serial == "" {
				t.Errorf("empty serial from %q", s)
			}
		}
	})
}

func FuzzParseForwards(f *testing.F) {
	f.Add("127.0.0.1:40001 tcp:37465 tcp:8080\n127.0.0.1:40001 tcp:18080 tcp:8080\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fw := range adbwire.ParseForwards(s) {
			if fw.Serial == "" || fw.Local == "" || fw.Remote == "" {
				t.Errorf("incomplete forward %+v from %q", fw, s)
			}
		}
	})
}

func FuzzReadShellV2(f *testing.F) {
	f.Add([]byte("\x01\x03\x00\x00\x00hi\n\x03\x01\x00\x00\x00\x00"))
	f.Add([]byte("\x02\x15\x00\x00\x00nosuchcmd: not found\n\x03\x01\x00\x00\x00\x7f"))
	f.Add([]byte("\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, err := adbwire.ReadShellV2(bytes.NewReader(b), io.Discard, io.Discard)
		if err == nil && (code < 0 || code > 255) {
			t.Errorf("exit status %d", code)
		}
	})
}

func FuzzReadHex4(f *testing.F) {
	f.Add([]byte("00040029"))
	f.Add([]byte("001cconnected to 127.0.0.1:40005"))
	f.Add([]byte("zzzz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := adbwire.ReadHex4(bytes.NewReader(b))
		if err == nil && len(s) > 0xffff {
			t.Errorf("reply of %d bytes", len(s))
		}
	})
}

func FuzzSplitExitMarker(f *testing.F) {
	f.Add([]byte("out\n\n__M:0\n"))
	f.Add([]byte("out\r\n__M:255\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, code, ok := adbwire.SplitExitMarker(b, "__M")
		if ok && (code < 0 || code > 255) {
			t.Errorf("status %d", code)
		}
		if len(out) > len(b) {
			t.Errorf("output grew")
		}
	})
}
