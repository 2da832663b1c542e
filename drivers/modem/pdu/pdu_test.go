package pdu

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors re-derived from TS 23.040/23.038 field by field; the comments
// give each field's meaning.
func TestEncodeSubmitVectors(t *testing.T) {
	tests := []struct {
		name    string
		s       Submit
		want    string
		tpduLen int
	}{
		{
			// no SCA; SUBMIT; MR 0; 11 digits international; PID 0; DCS 0;
			// 12 septets
			name:    "gsm7 default smsc",
			s:       Submit{To: "+27820001111", Text: "Hello World!"},
			want:    "00 01 00 0B 91 7228001011F1 00 00 0C C8329BFD065DDF72363904",
			tpduLen: 24,
		},
		{
			// SCA 7 octets +44000000000; SUBMIT+VPF relative; 9 digits;
			// DCS 08; VP F4 = 52 weeks; 10 octets of UTF-16
			name:    "ucs2 with smsc and validity",
			s:       Submit{SMSC: "+44000000000", To: "+123456789", Text: "世界您好！", Validity: 52 * 7 * 24 * time.Hour},
			want:    "07 91 4400000000F0 11 00 09 91 21436587F9 00 08 F4 0A 4E16754C60A8597DFF01",
			tpduLen: 23,
		},
		{
			// SCA and DA of unknown type (0x81); VP FF = 63 weeks
			name:    "unknown type of address",
			s:       Submit{SMSC: "1234", To: "1234", Text: "123456", Validity: 100 * 7 * 24 * time.Hour},
			want:    "03 81 2143 11 00 04 81 2143 00 00 FF 06 31D98C56B301",
			tpduLen: 16,
		},
		{
			name:    "national number",
			s:       Submit{To: "27764493806", Text: "hello world"},
			want:    "00 01 00 0B 81 7267443908F6 00 00 0B E8329BFD06DDDF723619",
			tpduLen: 23,
		},
		{
			// SRR (0x20) with relative VP (0x10): first octet 0x31; VP 0xA7 = 24 h
			name:    "status report requested",
			s:       Submit{To: "+31628870634", Text: "hi", StatusReport: true, Validity: 30 * time.Hour},
			want:    "00 31 00 0B 91 1326880736F4 00 00 A7 02 E834",
			tpduLen: 16,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ToUpper(strings.ReplaceAll(tt.want, " ", ""))
			if len(got) != 1 || got[0].Hex != want {
				t.Fatalf("Encode = %+v, want %s", got, want)
			}
			if got[0].TPDULen != tt.tpduLen {
				t.Errorf("TPDULen = %d, want %d", got[0].TPDULen, tt.tpduLen)
			}
		})
	}
}

func TestPackVectors(t *testing.T) {
	sep, ok := EncodeGSM7("hellohello")
	if !ok {
		t.Fatal("hellohello not GSM7")
	}
	if got := hex.EncodeToString(Pack(sep, 0)); got != "e8329bfd4697d9ec37" {
		t.Errorf("Pack(hellohello) = %s", got)
	}
	sep, ok = EncodeGSM7("[{abc}]~")
	if !ok {
		t.Fatal("[{abc}]~ not GSM7")
	}
	if want := mustHex(t, "1B3C 1B28 616263 1B29 1B3E 1B3D"); !bytes.Equal(sep, want) {
		t.Errorf("septets = % X, want % X", sep, want)
	}
	if got := DecodeGSM7(sep); got != "[{abc}]~" {
		t.Errorf("DecodeGSM7 = %q", got)
	}
	if _, ok := EncodeGSM7("emoji 😀"); ok {
		t.Error("emoji encoded as GSM7")
	}
	// An escape before an undefined extension septet falls back to the
	// default alphabet; a trailing escape reads as a space.
	if got := DecodeGSM7([]byte{0x1B, 0x41, 0x1B}); got != "A " {
		t.Errorf("DecodeGSM7 fallbacks = %q", got)
	}
}

func TestDecodeDeliver(t *testing.T) {
	tests := []struct {
		name    string
		pdu     string
		tpduLen int
		want    Deliver
	}{
		{
			// SCA +31624000000; DELIVER; OA +31641600986; DCS 0;
			// SCTS 2002-08-26 19:37:41 +02:00 (TZ 0x80 = 8 quarters)
			name:    "gsm7 with smsc",
			pdu:     "07911326040000F0 04 0B911346610089F6 00 00 20806291731480 0C C8F71D14969741F977FD07",
			tpduLen: 30,
			want:    Deliver{From: "+31641600986", Text: "How are you?", SentAt: time.Date(2002, 8, 26, 19, 37, 41, 0, time.FixedZone("", 2*3600))},
		},
		{
			// no SCA; alphanumeric sender "Test" (TON 101, 7 semi-octets);
			// UCS-2 "é€"
			name:    "alphanumeric sender ucs2",
			pdu:     "04 07D0D4F29C0E 00 08 52107151000000 04 00E920AC",
			tpduLen: 21,
			want:    Deliver{From: "Test", Text: "é€", SentAt: time.Date(2025, 1, 17, 15, 0, 0, 0, time.FixedZone("", 0))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(strings.ReplaceAll(tt.pdu, " ", ""), tt.tpduLen)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := m.(Deliver)
			if !ok {
				t.Fatalf("Decode = %T, want Deliver", m)
			}
			if d.From != tt.want.From || d.Text != tt.want.Text || !d.SentAt.Equal(tt.want.SentAt) || d.Concat != nil {
				t.Errorf("Decode = %+v, want %+v", d, tt.want)
			}
		})
	}
}

func TestDecodeStatusReport(t *testing.T) {
	tests := []struct {
		name    string
		pdu     string
		tpduLen int
		want    StatusReport
		smsc    string
	}{
		{
			// no SCA; STATUS-REPORT + MMS; MR 0xD6; RA +31628870634;
			// SCTS 2011-01-11 17:59:15 +01:00; DT 17:59:17; ST 0
			name:    "without smsc",
			pdu:     "00 06 D6 0B911326880736F4 11101171955140 11101171957140 00",
			tpduLen: 25,
			want: StatusReport{MR: 214, Recipient: "+31628870634", Status: 0,
				SCTS:      time.Date(2011, 1, 11, 17, 59, 15, 0, time.FixedZone("", 3600)),
				Discharge: time.Date(2011, 1, 11, 17, 59, 17, 0, time.FixedZone("", 3600))},
		},
		{
			// SCA +420603052000; MR 232; RA +666666666666; SCTS
			// 2009-09-07 16:48:22 +02:00; DT 16:48:26; ST 0
			name:    "with smsc",
			pdu:     "079124603050020006E80C91666666666666909070618422809090706184628000",
			tpduLen: 25,
			smsc:    "+420603052000",
			want: StatusReport{MR: 232, Recipient: "+666666666666", Status: 0,
				SCTS:      time.Date(2009, 9, 7, 16, 48, 22, 0, time.FixedZone("", 2*3600)),
				Discharge: time.Date(2009, 9, 7, 16, 48, 26, 0, time.FixedZone("", 2*3600))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := strings.ReplaceAll(tt.pdu, " ", "")
			smsc, tpdu, err := SplitSMSC(h, tt.tpduLen)
			if err != nil {
				t.Fatal(err)
			}
			if smsc != tt.smsc {
				t.Errorf("smsc = %q, want %q", smsc, tt.smsc)
			}
			got, err := DecodeStatusReport(tpdu)
			if err != nil {
				t.Fatal(err)
			}
			if got.MR != tt.want.MR || got.Recipient != tt.want.Recipient || got.Status != tt.want.Status ||
				!got.SCTS.Equal(tt.want.SCTS) || !got.Discharge.Equal(tt.want.Discharge) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.Outcome() != Delivered {
				t.Errorf("Outcome = %v, want Delivered", got.Outcome())
			}
		})
	}
}

func TestStatusOutcome(t *testing.T) {
	for _, tt := range []struct {
		st   byte
		want Outcome
	}{{0x00, Delivered}, {0x02, Delivered}, {0x20, Pending}, {0x3F, Pending}, {0x46, Failed}, {0x60, Failed}, {0x80, Failed}} {
		if got := (StatusReport{Status: tt.st}).Outcome(); got != tt.want {
			t.Errorf("Outcome(%#x) = %v, want %v", tt.st, got, tt.want)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, h := range []string{
		"",
		"zz",
		"0004",                     // DELIVER cut in the address
		"00040B911346610089F60000", // no time stamp
		"0006D6",                   // status report without recipient
		"00040B911346610089F6000020806291731480FF00", // 255 septets in 1 octet
	} {
		if _, err := Decode(h, -1); err == nil {
			t.Errorf("Decode(%q) succeeded", h)
		}
	}
}

func TestRelativeValidity(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want byte
	}{
		{time.Minute, 0}, {5 * time.Minute, 0}, {time.Hour, 11}, {12 * time.Hour, 143},
		{13 * time.Hour, 145}, {24 * time.Hour, 167}, {3 * 24 * time.Hour, 169},
		{7 * 24 * time.Hour, 173}, {31 * 24 * time.Hour, 196}, {52 * 7 * 24 * time.Hour, 244},
		{1000 * 24 * time.Hour, 255},
	} {
		if got := RelativeValidity(tt.d); got != tt.want {
			t.Errorf("RelativeValidity(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	// Property: the encoded period never exceeds the wanted one, and the
	// next octet would.
	for d := 5 * time.Minute; d < 70*7*24*time.Hour; d = d*9/8 + time.Minute {
		vp := RelativeValidity(d)
		if got := ValidityDuration(vp); got > d {
			t.Fatalf("ValidityDuration(RelativeValidity(%v)) = %v, longer", d, got)
		}
		if vp < 255 && ValidityDuration(vp+1) <= d {
			t.Fatalf("RelativeValidity(%v) = %d, but %d also fits", d, vp, vp+1)
		}
	}
}

// parsedSubmit is a test-side reading of our own SMS-SUBMIT output.
type parsedSubmit struct {
	first, vp byte
	to        string
	text      string
	concat    *Concat
}

func parseSubmit(t *testing.T, p PDU) parsedSubmit {
	t.Helper()
	_, tpdu, err := SplitSMSC(p.Hex, p.TPDULen)
	if err != nil {
		t.Fatal(err)
	}
	info, err := DecodeSubmit(tpdu)
	if err != nil {
		t.Fatal(err)
	}
	first := tpdu[0]
	if len(tpdu) > 140+22 {
		t.Errorf("TPDU of %d octets", len(tpdu))
	}
	return parsedSubmit{first: first, vp: info.VP, to: info.To, text: info.Text, concat: info.Concat}
}

func TestSplitBoundaries(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		enc   Encoding
		parts int
		first string // the first part, when it matters
	}{
		{"160 gsm7 is one part", strings.Repeat("a", 160), GSM7, 1, ""},
		{"161 gsm7 is two", strings.Repeat("a", 161), GSM7, 2, ""},
		{"80 euros is one part", strings.Repeat("€", 80), GSM7, 1, ""},
		{"escape never split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), GSM7, 2, strings.Repeat("a", 152)},
		{"70 ucs2 is one part", strings.Repeat("é", 69) + "ж", UCS2, 1, ""},
		{"71 ucs2 is two", strings.Repeat("ж", 71), UCS2, 2, ""},
		{"surrogate never split", strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 10), UCS2, 2, strings.Repeat("ж", 66)},
		{"three parts", strings.Repeat("0123456789", 40), GSM7, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, parts := Split(tt.text)
			if enc != tt.enc || len(parts) != tt.parts {
				t.Fatalf("Split = %v, %d parts; want %v, %d", enc, len(parts), tt.enc, tt.parts)
			}
			if tt.first != "" && parts[0] != tt.first {
				t.Errorf("first part = %q, want %q", parts[0], tt.first)
			}
			if strings.Join(parts, "") != tt.text {
				t.Error("parts do not join to the text")
			}
			for i, p := range parts {
				if !utf8.ValidString(p) || strings.ContainsRune(p, utf8.RuneError) {
					t.Errorf("part %d is not clean text", i)
				}
			}
		})
	}
}

// checkRoundTrip encodes s and reads every part back.
func checkRoundTrip(t *testing.T, s Submit) {
	t.Helper()
	pdus, err := s.Encode()
	if err != nil {
		t.Fatalf("Encode(%q): %v", s.Text, err)
	}
	var b strings.Builder
	for i, p := range pdus {
		got := parseSubmit(t, p)
		if got.to != s.To {
			t.Errorf("part %d to %q, want %q", i, got.to, s.To)
		}
		if (got.first&0x20 != 0) != s.StatusReport {
			t.Errorf("part %d SRR = %v", i, got.first&0x20 != 0)
		}
		if len(pdus) > 1 {
			if got.concat == nil || got.concat.Ref != uint16(s.Ref) || got.concat.Total != len(pdus) || got.concat.Seq != i+1 {
				t.Errorf("part %d concat = %+v", i, got.concat)
			}
		} else if got.concat != nil {
			t.Errorf("single part has a concat header")
		}
		b.WriteString(got.text)
	}
	if b.String() != s.Text {
		t.Errorf("round trip of %q gave %q", s.Text, b.String())
	}
}

func TestRoundTrip(t *testing.T) {
	texts := []string{
		"Your code is 123456.",
		strings.Repeat("Ab{}€ ", 60),
		"Привет, мир! 😀 " + strings.Repeat("ж😀", 50),
		"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€\f",
		strings.Repeat("x", 153*3),
	}
	for i, text := range texts {
		checkRoundTrip(t, Submit{To: "+33612345678", Text: text, StatusReport: i%2 == 0, Ref: byte(i * 40), Validity: time.Hour})
	}
}

func FuzzSubmitRoundTrip(f *testing.F) {
	f.Add("hello", byte(7))
	f.Add(strings.Repeat("€a", 100), byte(1))
	f.Add(strings.Repeat("😀x", 80), byte(255))
	f.Fuzz(func(t *testing.T, text string, ref byte) {
		if text == "" || !utf8.ValidString(text) || len(utf16.Encode([]rune(text))) > 3000 {
			t.Skip()
		}
		for _, r := range text {
			if r == utf8.RuneError || (r >= 0xD800 && r <= 0xDFFF) {
				t.Skip()
			}
		}
		checkRoundTrip(t, Submit{To: "+4915112345678", Text: text, Ref: ref})
	})
}

func FuzzDecodeDeliver(f *testing.F) {
	f.Add(mustHex(f, "040B911346610089F60000208062917314800CC8F71D14969741F977FD07"))
	f.Add(mustHex(f, "4407D0D432BB0E000852107151000000100500030A0201005400650073007400"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDeliver(b)
		if err != nil {
			return
		}
		if !utf8.ValidString(d.Text) || !utf8.ValidString(d.From) {
			t.Errorf("decoded text is not UTF-8: %+v", d)
		}
	})
}

func FuzzDecodeStatusReport(f *testing.F) {
	f.Add(mustHex(f, "06D60B911326880736F4111011719551401110117195714000"))
	f.Add(mustHex(f, "06E80C91666666666666909070618422809090706184628000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeStatusReport(b)
		if err != nil {
			return
		}
		if r.Outcome() < Delivered || r.Outcome() > Failed {
			t.Errorf("outcome %v", r.Outcome())
		}
	})
}

func FuzzSplitSMSC(f *testing.F) {
	f.Add("079124603050020006E80C91666666666666909070618422809090706184628000", 25)
	f.Add("0006D60B911326880736F4111011719551401110117195714000", -1)
	f.Fuzz(func(t *testing.T, h string, n int) {
		_, _ = Decode(h, n)
	})
}

func TestReceivedRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", -5*3600))
	for _, d := range []Deliver{
		{From: "+33612345678", Text: "STOP", SentAt: at},
		{From: "12345", Text: "Ärger – €5 😀", SentAt: at.UTC()},
	} {
		h, n, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(h, n)
		if err != nil {
			t.Fatal(err)
		}
		got := m.(Deliver)
		if got.From != d.From || got.Text != d.Text || !got.SentAt.Equal(d.SentAt) {
			t.Errorf("round trip %+v gave %+v", d, got)
		}
	}
	r := StatusReport{MR: 77, Recipient: "+4915112345678", SCTS: at, Discharge: at.Add(time.Minute), Status: 0x46}
	h, n, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(h, n)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(StatusReport)
	if got.MR != r.MR || got.Recipient != r.Recipient || got.Status != r.Status || !got.Discharge.Equal(r.Discharge) || got.Outcome() != Failed {
		t.Errorf("round trip %+v gave %+v", r, got)
	}
}
