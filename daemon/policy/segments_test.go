package policy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"smsgw/config"
	"smsgw/drivers"
)

func TestPlan(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) }
	const emoji = "😀"
	tests := []struct {
		name  string
		text  string
		enc   drivers.Encoding
		parts []string
	}{
		{"empty", "", drivers.GSM7, []string{""}},
		{"160 GSM chars fit one part", a(160), drivers.GSM7, []string{a(160)}},
		{"161 GSM chars take two", a(161), drivers.GSM7, []string{a(153), a(8)}},
		{"306 GSM chars fill two parts", a(306), drivers.GSM7, []string{a(153), a(153)}},
		{"307 GSM chars take three", a(307), drivers.GSM7, []string{a(153), a(153), a(1)}},
		{"whole basic table", gsmBasic, drivers.GSM7, []string{gsmBasic}},
		{"158 chars and one extension fill one part", a(158) + "€", drivers.GSM7, []string{a(158) + "€"}},
		{"159 chars and one extension take two", a(159) + "€", drivers.GSM7, []string{a(153), a(6) + "€"}},
		{"80 euros fill one part", strings.Repeat("€", 80), drivers.GSM7, []string{strings.Repeat("€", 80)}},
		{"81 euros: 76 per part", strings.Repeat("€", 81), drivers.GSM7, []string{strings.Repeat("€", 76), strings.Repeat("€", 5)}},
		{"extension ends part exactly at 153", a(151) + "{" + a(10), drivers.GSM7, []string{a(151) + "{", a(10)}},
		{"extension straddling 153 moves whole", a(152) + "[" + a(10), drivers.GSM7, []string{a(152), "[" + a(10)}},
		{"every extension char", a(152) + "\f^{}\\[~]|€", drivers.GSM7, []string{a(152), "\f^{}\\[~]|€"}},
		{"form feed is an extension", a(152) + "\f" + a(10), drivers.GSM7, []string{a(152), "\f" + a(10)}},
		{"70 UCS-2 chars fit one part", zh(70), drivers.UCS2, []string{zh(70)}},
		{"71 UCS-2 chars take two", zh(71), drivers.UCS2, []string{zh(67), zh(4)}},
		{"one non-GSM char turns all to UCS-2", a(160) + "ж", drivers.UCS2, []string{a(67), a(67), a(26) + "ж"}},
		{"lowercase ç is not GSM", "ç", drivers.UCS2, []string{"ç"}},
		{"35 emoji fill one part", strings.Repeat(emoji, 35), drivers.UCS2, []string{strings.Repeat(emoji, 35)}},
		{"36 emoji: 33 per part", strings.Repeat(emoji, 36), drivers.UCS2, []string{strings.Repeat(emoji, 33), strings.Repeat(emoji, 3)}},
		{"emoji ends part exactly at 67", zh(65) + emoji + zh(10), drivers.UCS2, []string{zh(65) + emoji, zh(10)}},
		{"emoji straddling 67 moves whole", zh(66) + emoji + zh(10), drivers.UCS2, []string{zh(66), emoji + zh(10)}},
		{"extension chars cost one unit in UCS-2", strings.Repeat("€", 70) + "ж", drivers.UCS2, []string{strings.Repeat("€", 67), strings.Repeat("€", 3) + "ж"}},
		{"escape code itself is not GSM text", "a\x1bb", drivers.UCS2, []string{"a\x1bb"}},
		{"invalid UTF-8 kept byte for byte", "a\xffb", drivers.UCS2, []string{"a\xffb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.text)
			if got.Encoding != tt.enc {
				t.Errorf("encoding = %s, want %s", got.Encoding, tt.enc)
			}
			if len(got.Parts) != len(tt.parts) {
				t.Fatalf("%d parts %q, want %d", len(got.Parts), got.Parts, len(tt.parts))
			}
			for i := range tt.parts {
				if got.Parts[i] != tt.parts[i] {
					t.Errorf("part %d = %q, want %q", i, got.Parts[i], tt.parts[i])
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		tpl     config.Template
		params  map[string]string
		want    string
		parts   int
		wantErr bool
	}{
		{"fills params", config.Template{Text: "Your code is {{.code}}."}, map[string]string{"code": "1234"}, "Your code is 1234.", 1, false},
		{"no escaping", config.Template{Text: "{{.name}}"}, map[string]string{"name": "<b>&'"}, "<b>&'", 1, false},
		{"params are data not template", config.Template{Text: "{{.name}}"}, map[string]string{"name": "{{.x}}"}, "{{.x}}", 1, false},
		{"missing key is an error", config.Template{Text: "Hi {{.name}}"}, nil, "", 0, true},
		{"does not parse", config.Template{Text: "Hi {{.name"}, map[string]string{"name": "x"}, "", 0, true},
		{"long text planned", config.Template{Text: "{{.a}}{{.a}}"}, map[string]string{"a": strings.Repeat("x", 100)}, strings.Repeat("x", 200), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, plan, err := Render(tt.tpl, tt.params)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if text != tt.want || len(plan.Parts) != tt.parts {
				t.Errorf("got %q in %d parts, want %q in %d", text, len(plan.Parts), tt.want, tt.parts)
			}
		})
	}
}

// units counts a part's cost without the package's tables: two septets for
// the extension characters, two UTF-16 units outside the BMP.
func units(enc drivers.Encoding, s string) int {
	n := 0
	for _, r := range s {
		switch {
		case enc == drivers.GSM7 && strings.ContainsRune("\f^{}\\[~]|€", r):
			n += 2
		case enc == drivers.UCS2 && r > 0xFFFF:
			n += 2
		default:
			n++
		}
	}
	return n
}

func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		"", "Your code is 123456.", strings.Repeat("a", 161), strings.Repeat("€", 81),
		strings.Repeat("a", 152) + "{" + "b", strings.Repeat("ж", 66) + "😀" + "x",
		strings.Repeat("😀", 36), "a\xffb\xed\xa0\x80", "\x1b\f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		plan := Plan(text)
		if len(plan.Parts) == 0 {
			t.Fatal("no parts")
		}
		if got := strings.Join(plan.Parts, ""); got != text {
			t.Fatalf("parts %q do not rejoin to %q", plan.Parts, text)
		}
		wantEnc := drivers.GSM7
		if !IsGSM7(text) {
			wantEnc = drivers.UCS2
		}
		if plan.Encoding != wantEnc {
			t.Fatalf("encoding %s, want %s", plan.Encoding, wantEnc)
		}
		single, multi := gsmSingle, gsmPart
		if plan.Encoding == drivers.UCS2 {
			single, multi = ucs2Single, ucs2Part
		}
		total := units(plan.Encoding, text)
		if total <= single && len(plan.Parts) != 1 {
			t.Fatalf("%d units split into %d parts", total, len(plan.Parts))
		}
		for i, p := range plan.Parts {
			if n := units(plan.Encoding, p); len(plan.Parts) > 1 && n > multi || n > single {
				t.Fatalf("part %d has %d units", i, n)
			}
			if len(plan.Parts) > 1 && p == "" {
				t.Fatalf("part %d is empty", i)
			}
			// A split inside a character (surrogate pair or escape
			// pair alike: both are one rune here) leaves invalid
			// UTF-8 behind where the text had none.
			if utf8.ValidString(text) && !utf8.ValidString(p) {
				t.Fatalf("part %d splits a character: %q", i, p)
			}
			if i > 0 && utf8.ValidString(text) && !utf8.RuneStart(p[0]) {
				t.Fatalf("part %d starts inside a character", i)
			}
		}
		// Greedy packing: each part but the last could not take the next
		// part's first character.
		for i := 0; i+1 < len(plan.Parts); i++ {
			next, _ := utf8.DecodeRuneInString(plan.Parts[i+1])
			if units(plan.Encoding, plan.Parts[i])+units(plan.Encoding, string(next)) <= multi && utf8.ValidString(text) {
				t.Fatalf("part %d stopped early", i)
			}
		}
	})
}
