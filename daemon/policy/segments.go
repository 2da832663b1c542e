package policy

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	"smsgw/config"
	"smsgw/drivers"
)

// Segment limits, in septets for GSM 03.38 and in UTF-16 code units for
// UCS-2. A multipart message loses room in every part to the concatenation
// header.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet, in table order, without the
// escape code (0x1B) which is not a character of its own.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters reached through the escape code; each
// costs two septets and the pair is never split across parts.
const gsmExtension = "\f^{}\\[~]|€"

var gsmWidth = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// IsGSM7 reports whether every character of text is in the GSM 03.38 default
// alphabet or its extension table.
func IsGSM7(text string) bool {
	for _, r := range text {
		if _, ok := gsmWidth[r]; !ok {
			return false
		}
	}
	// An invalid byte decodes as U+FFFD, which is not in the alphabet, so
	// the loop above already refused invalid UTF-8.
	return true
}

// Plan splits text into SMS parts. Text that fits the GSM 03.38 alphabet
// (extension characters count as two septets) is planned in septets, 160 for
// one part or 153 per part; anything else in UCS-2 code units, 70 for one part
// or 67 per part, where a character outside the Basic Multilingual Plane takes
// two units. Neither an escape pair nor a surrogate pair is ever split, so a
// part may stay one unit short of its limit. The parts joined give text back.
// Empty text is one empty part.
func Plan(text string) drivers.SegmentPlan {
	enc, single, multi := drivers.GSM7, gsmSingle, gsmPart
	width := func(r rune) int { return gsmWidth[r] }
	if !IsGSM7(text) {
		enc, single, multi = drivers.UCS2, ucs2Single, ucs2Part
		width = ucs2Width
	}

	total := 0
	for _, r := range text {
		total += width(r)
	}
	if total <= single {
		return drivers.SegmentPlan{Encoding: enc, Parts: []string{text}}
	}

	parts := make([]string, 0, total/multi+1)
	start, used := 0, 0
	for i, r := range text {
		w := width(r)
		if used+w > multi {
			parts = append(parts, text[start:i])
			start, used = i, 0
		}
		used += w
	}
	parts = append(parts, text[start:])
	return drivers.SegmentPlan{Encoding: enc, Parts: parts}
}

// ucs2Width is the number of UTF-16 code units of r. Invalid bytes decode as
// U+FFFD and are sent as that one unit.
func ucs2Width(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

// Render executes a template with params and plans the result. A parameter
// the template uses but params lacks is an error (missingkey=error). Render
// does not check params against the template's declarations; Prepare does.
func Render(tpl config.Template, params map[string]string) (text string, plan drivers.SegmentPlan, err error) {
	t, err := parseTemplate(tpl)
	if err != nil {
		return "", drivers.SegmentPlan{}, err
	}
	text, err = execute(t, params)
	if err != nil {
		return "", drivers.SegmentPlan{}, err
	}
	return text, Plan(text), nil
}

func parseTemplate(tpl config.Template) (*template.Template, error) {
	t, err := template.New("sms").Option("missingkey=error").Parse(tpl.Text)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return t, nil
}

func execute(t *template.Template, params map[string]string) (string, error) {
	if params == nil {
		params = map[string]string{}
	}
	var b strings.Builder
	if err := t.Execute(&b, params); err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	if !utf8.ValidString(b.String()) {
		return "", errors.New("render template: result is not valid UTF-8")
	}
	return b.String(), nil
}
