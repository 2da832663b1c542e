package pdu

import (
	"strings"
	"testing"
	"time"
)

func BenchmarkEncodeSubmit(b *testing.B) {
	benches := []struct {
		name  string
		text  string
		parts int
	}{
		{"gsm7-single", "Your code is 123456. It expires in 5 minutes.", 1},
		{"gsm7-multipart", strings.Repeat("Your appointment is on Monday at 10:00. ", 10), 3},
		{"ucs2-single", "Ваш код 123456. Он действует 5 минут.", 1},
		{"ucs2-multipart", strings.Repeat("Ваш код 123456 😀 ", 10), 3},
	}
	for _, bb := range benches {
		s := Submit{To: "+33612345678", Text: bb.text, StatusReport: true, Validity: 5 * time.Minute, Ref: 7}
		if pdus, err := s.Encode(); err != nil || len(pdus) != bb.parts {
			b.Fatalf("%s: %d PDUs, %v; want %d", bb.name, len(pdus), err, bb.parts)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.text)))
			for b.Loop() {
				if _, err := s.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeDeliver decodes inbound messages from hex as the driver
// does with a +CMGR or +CMT PDU.
func BenchmarkDecodeDeliver(b *testing.B) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, bb := range []struct{ name, text string }{
		{"gsm7", "STOP"},
		{"gsm7-full", strings.Repeat("a", 160)},
		{"ucs2", "Ärger – €5 😀 bitte nicht mehr schreiben"},
	} {
		h, n, err := Deliver{From: "+33612345678", Text: bb.text, SentAt: at}.Encode()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := Decode(h, n)
				if err != nil {
					b.Fatal(err)
				}
				if m.(Deliver).Text != bb.text {
					b.Fatal("decoded text differs")
				}
			}
		})
	}
}

// BenchmarkDecodeStatusReport decodes a status report from hex as the
// driver does with a +CDS or stored report.
func BenchmarkDecodeStatusReport(b *testing.B) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	h, n, err := StatusReport{MR: 77, Recipient: "+33612345678", SCTS: at, Discharge: at.Add(time.Minute), Status: 0}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(h, n)
		if err != nil {
			b.Fatal(err)
		}
		if m.(StatusReport).MR != 77 {
			b.Fatal("wrong message reference")
		}
	}
}
