package pdu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// Encoding is the alphabet of a message's user data.
type Encoding int

// Alphabets a message can be sent in.
const (
	GSM7 Encoding = iota
	UCS2
)

func (e Encoding) String() string {
	if e == UCS2 {
		return "ucs2"
	}
	return "gsm7"
}

// Segment sizes (TS 23.040 §9.2.3.24: 140 octets of user data, less a
// 6-octet concatenation header).
const (
	gsm7Single = 160 // septets
	gsm7Part   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Part   = 67
	// MaxParts is the most parts a concatenated message can have.
	MaxParts = 255
)

// part is the user data of one segment: septets for GSM7, UTF-16 code units
// for UCS2.
type part struct {
	septets []byte
	units   []uint16
}

// Split returns the alphabet text is sent in (GSM 7-bit when every
// character has a septet, UCS-2 otherwise) and its segments. A segment
// never ends between an escape and its extension character, nor between
// the halves of a surrogate pair.
func Split(text string) (Encoding, []string) {
	enc, parts := split(text)
	out := make([]string, len(parts))
	for i, p := range parts {
		if enc == GSM7 {
			out[i] = DecodeGSM7(p.septets)
		} else {
			out[i] = string(utf16.Decode(p.units))
		}
	}
	return enc, out
}

func split(text string) (Encoding, []part) {
	if septets, ok := EncodeGSM7(text); ok {
		if len(septets) <= gsm7Single {
			return GSM7, []part{{septets: septets}}
		}
		var parts []part
		var cur []byte
		for _, r := range text {
			s, _ := GSM7Septets(r)
			if len(cur)+len(s) > gsm7Part {
				parts = append(parts, part{septets: cur})
				cur = nil
			}
			cur = append(cur, s...)
		}
		return GSM7, append(parts, part{septets: cur})
	}
	units := utf16.Encode([]rune(text))
	if len(units) <= ucs2Single {
		return UCS2, []part{{units: units}}
	}
	var parts []part
	var cur []uint16
	for _, r := range text {
		u := utf16.Encode([]rune{r})
		if len(cur)+len(u) > ucs2Part {
			parts = append(parts, part{units: cur})
			cur = nil
		}
		cur = append(cur, u...)
	}
	return UCS2, append(parts, part{units: cur})
}

// Submit is an SMS-SUBMIT to encode.
type Submit struct {
	// SMSC is the service centre number; empty uses the modem's (AT+CSCA).
	SMSC string
	// To is the recipient: digits, with a leading + for international form.
	To string
	// Text is the message body.
	Text string
	// StatusReport requests a status report (TP-SRR).
	StatusReport bool
	// Validity, when positive, is the relative validity period; it is
	// rounded down to what TP-VP can express, with 5 minutes the least.
	Validity time.Duration
	// Ref is the concatenation reference shared by the parts of a long
	// message.
	Ref byte
}

// PDU is one encoded SMS-SUBMIT ready for AT+CMGS.
type PDU struct {
	// Hex is the SMSC address field followed by the TPDU, in upper-case hex.
	Hex string
	// TPDULen is the TPDU length in octets: the argument of AT+CMGS.
	TPDULen int
}

// Encode returns one PDU per segment of s.Text.
func (s Submit) Encode() ([]PDU, error) {
	if s.Text == "" {
		return nil, errors.New("pdu: empty text")
	}
	digits, toa, bcd, err := encodeAddress(s.To)
	if err != nil {
		return nil, err
	}
	var sca []byte
	if s.SMSC == "" {
		sca = []byte{0}
	} else {
		_, stoa, sbcd, err := encodeAddress(s.SMSC)
		if err != nil {
			return nil, fmt.Errorf("pdu: SMSC: %w", err)
		}
		sca = append([]byte{byte(1 + len(sbcd)), stoa}, sbcd...)
	}
	enc, parts := split(s.Text)
	if len(parts) > MaxParts {
		return nil, fmt.Errorf("pdu: text needs %d parts, at most %d", len(parts), MaxParts)
	}
	out := make([]PDU, len(parts))
	for i, p := range parts {
		first := byte(0x01) // SMS-SUBMIT
		if s.Validity > 0 {
			first |= 0x10 // relative validity period
		}
		if s.StatusReport {
			first |= 0x20
		}
		var udh []byte
		if len(parts) > 1 {
			first |= 0x40
			udh = []byte{5, 0x00, 3, s.Ref, byte(len(parts)), byte(i + 1)}
		}
		t := []byte{first, 0x00, byte(digits), toa}
		t = append(t, bcd...)
		dcs := byte(0x00)
		if enc == UCS2 {
			dcs = 0x08
		}
		t = append(t, 0x00, dcs)
		if s.Validity > 0 {
			t = append(t, RelativeValidity(s.Validity))
		}
		if enc == GSM7 {
			hdrSeptets := (len(udh)*8 + 6) / 7
			fill := hdrSeptets*7 - len(udh)*8
			t = append(t, byte(hdrSeptets+len(p.septets)))
			t = append(t, udh...)
			t = append(t, Pack(p.septets, fill)...)
		} else {
			t = append(t, byte(len(udh)+2*len(p.units)))
			t = append(t, udh...)
			for _, u := range p.units {
				t = append(t, byte(u>>8), byte(u))
			}
		}
		out[i] = PDU{
			Hex:     strings.ToUpper(hex.EncodeToString(append(append([]byte{}, sca...), t...))),
			TPDULen: len(t),
		}
	}
	return out, nil
}

// RelativeValidity returns the TP-VP octet for d (TS 23.040 §9.2.3.12.1),
// the longest period the octet can express that is not longer than d, and
// 0 (5 minutes) for anything shorter.
func RelativeValidity(d time.Duration) byte {
	switch {
	case d < 5*time.Minute:
		return 0
	case d <= 12*time.Hour:
		return byte(d/(5*time.Minute)) - 1
	case d < 24*time.Hour:
		return byte(143 + (d-12*time.Hour)/(30*time.Minute))
	case d < 30*24*time.Hour:
		if d < 2*24*time.Hour {
			return 167
		}
		return byte(166 + d/(24*time.Hour))
	case d < 5*7*24*time.Hour:
		return 196
	default:
		w := d / (7 * 24 * time.Hour)
		if w > 63 {
			w = 63
		}
		return byte(192 + w)
	}
}

// ValidityDuration is the period a relative TP-VP octet stands for.
func ValidityDuration(vp byte) time.Duration {
	v := time.Duration(vp)
	switch {
	case vp <= 143:
		return (v + 1) * 5 * time.Minute
	case vp <= 167:
		return 12*time.Hour + (v-143)*30*time.Minute
	case vp <= 196:
		return (v - 166) * 24 * time.Hour
	default:
		return (v - 192) * 7 * 24 * time.Hour
	}
}
