package pdu_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"smsgw/daemon/policy"
	"smsgw/drivers"
	"smsgw/drivers/modem/pdu"
)

// planTo is the recipient of the encoded messages: 11 digits, so the
// address takes 6 octets and TP-DCS sits at a fixed offset.
const planTo = "+33612345678"

// dcsOffset is where TP-DCS sits in an SMS-SUBMIT TPDU to planTo without
// a validity period: first octet, TP-MR, address length, type of address,
// 6 octets of digits, TP-PID.
const dcsOffset = 4 + 6 + 1

// encodingOf reads the alphabet of one encoded SMS-SUBMIT.
func encodingOf(t *testing.T, tpdu []byte) drivers.Encoding {
	t.Helper()
	if len(tpdu) <= dcsOffset {
		t.Fatalf("TPDU of %d octets has no TP-DCS", len(tpdu))
	}
	switch dcs := tpdu[dcsOffset]; dcs {
	case 0x00:
		return drivers.GSM7
	case 0x08:
		return drivers.UCS2
	default:
		t.Fatalf("unexpected TP-DCS %#02x", dcs)
		return ""
	}
}

// checkPlanMatchesPDU asserts that the plan the policy makes at accept
// time (part count, alphabet, part boundaries) is what the modem's PDU
// encoder sends for the same text. The plan decides max_segments refusals
// and the pacing of a device counts its parts: a disagreement would
// accept a message that goes out longer than allowed, or pace it wrong.
func checkPlanMatchesPDU(t *testing.T, text string) {
	t.Helper()
	if text == "" {
		return // an empty text is refused before it is planned or sent
	}
	plan := policy.Plan(text)
	pdus, err := pdu.Submit{To: planTo, Text: text, Ref: 42}.Encode()
	if len(plan.Parts) > pdu.MaxParts {
		if err == nil {
			t.Fatalf("the plan has %d parts, more than a concatenated SMS can have, yet the encoder took it", len(plan.Parts))
		}
		return
	}
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if len(pdus) != len(plan.Parts) {
		t.Fatalf("the plan has %d %s parts, the encoder made %d PDUs", len(plan.Parts), plan.Encoding, len(pdus))
	}
	// Render refuses invalid UTF-8, so only valid text ever reaches a
	// device; for the rest only the counts above must agree.
	valid := utf8.ValidString(text)
	var joined strings.Builder
	for i, p := range pdus {
		_, tpdu, err := pdu.SplitSMSC(p.Hex, p.TPDULen)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		if enc := encodingOf(t, tpdu); enc != plan.Encoding {
			t.Fatalf("part %d sent in %s, the plan says %s", i+1, enc, plan.Encoding)
		}
		info, err := pdu.DecodeSubmit(tpdu)
		if err != nil {
			t.Fatalf("part %d: DecodeSubmit: %v", i+1, err)
		}
		switch {
		case len(pdus) == 1 && info.Concat != nil:
			t.Fatalf("a single part carries a concatenation header %+v", info.Concat)
		case len(pdus) > 1 && (info.Concat == nil || info.Concat.Seq != i+1 || info.Concat.Total != len(pdus) || info.Concat.Ref != 42):
			t.Fatalf("part %d of %d has concatenation header %+v", i+1, len(pdus), info.Concat)
		}
		if valid && info.Text != plan.Parts[i] {
			t.Fatalf("part %d sent as %q, the plan says %q", i+1, info.Text, plan.Parts[i])
		}
		joined.WriteString(info.Text)
	}
	if valid && joined.String() != text {
		t.Fatalf("the parts sent rejoin to %q, want %q", joined.String(), text)
	}
}

// TestPlanMatchesPDU pins the boundaries where the two counts could part:
// the single-part limits, the per-part limits, and the characters that
// take two units (GSM extension table, UTF-16 surrogate pairs).
func TestPlanMatchesPDU(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) }
	tests := []struct {
		name  string
		text  string
		parts int
	}{
		{"short GSM", "Your code is 123456.", 1},
		{"160 septets", a(160), 1},
		{"161 septets", a(161), 2},
		{"306 septets", a(306), 2},
		{"307 septets", a(307), 3},
		{"extension char makes 161 septets", a(159) + "€", 2},
		{"escape pair at the end of part one", a(151) + "{" + a(10), 2},
		{"escape pair straddling 153", a(152) + "[" + a(10), 2},
		{"80 euros", strings.Repeat("€", 80), 1},
		{"81 euros", strings.Repeat("€", 81), 2},
		{"form feed", a(152) + "\f" + a(10), 2},
		{"70 UCS-2 units", zh(70), 1},
		{"71 UCS-2 units", zh(71), 2},
		{"134 UCS-2 units", zh(134), 2},
		{"135 UCS-2 units", zh(135), 3},
		{"surrogate pair at the end of part one", zh(65) + "😀" + zh(10), 2},
		{"surrogate pair straddling 67", zh(66) + "😀" + zh(10), 2},
		{"35 emoji", strings.Repeat("😀", 35), 1},
		{"36 emoji", strings.Repeat("😀", 36), 2},
		{"one non-GSM char turns all to UCS-2", a(160) + "ж", 3},
		{"escape code alone is not GSM text", "a\x1bb", 1},
		{"whole GSM basic table", "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := len(policy.Plan(tt.text).Parts); n != tt.parts {
				t.Fatalf("Plan gives %d parts, want %d", n, tt.parts)
			}
			checkPlanMatchesPDU(t, tt.text)
		})
	}
}

func FuzzPlanMatchesPDU(f *testing.F) {
	for _, s := range []string{
		"Your code is 123456.", strings.Repeat("a", 161), strings.Repeat("€", 81),
		strings.Repeat("a", 152) + "{b", strings.Repeat("ж", 66) + "😀x", strings.Repeat("😀", 36),
		"a\x1bb", "\f^{}\\[~]|€", "Ärger – €5 😀", "a\xffb", "ç",
	} {
		f.Add(s)
	}
	f.Fuzz(checkPlanMatchesPDU)
}
