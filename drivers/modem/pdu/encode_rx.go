package pdu

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// SubmitInfo is a decoded SMS-SUBMIT, as a simulated modem or network sees
// what smsgw sent.
type SubmitInfo struct {
	MR           byte
	To           string
	StatusReport bool
	// VP is the relative validity octet; HasVP is false when none was sent.
	VP     byte
	HasVP  bool
	Text   string
	Concat *Concat
}

// DecodeSubmit decodes an SMS-SUBMIT TPDU (without the SMSC address).
func DecodeSubmit(tpdu []byte) (SubmitInfo, error) {
	r := &reader{b: tpdu}
	first := r.byte()
	if r.err == nil && first&0x03 != 0x01 {
		return SubmitInfo{}, fmt.Errorf("pdu: message type %d is not SMS-SUBMIT", first&0x03)
	}
	var s SubmitInfo
	s.StatusReport = first&0x20 != 0
	s.MR = r.byte()
	s.To = readAddress(r)
	r.byte() // TP-PID
	dcs := r.byte()
	switch first & 0x18 {
	case 0x10:
		s.VP, s.HasVP = r.byte(), true
	case 0x08, 0x18:
		r.bytes(7)
	}
	udl := int(r.byte())
	ud := r.rest()
	if r.err != nil {
		return SubmitInfo{}, r.err
	}
	text, concat, err := decodeUserData(ud, udl, first&0x40 != 0, alphabet(dcs))
	if err != nil {
		return SubmitInfo{}, err
	}
	s.Text, s.Concat = text, concat
	return s, nil
}

func appendAddress(b []byte, number string) ([]byte, error) {
	digits, toa, bcd, err := encodeAddress(number)
	if err != nil {
		return nil, err
	}
	b = append(b, byte(digits), toa)
	return append(b, bcd...), nil
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		t = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	_, off := t.Zone()
	q := off / (15 * 60)
	tz := byte(0)
	if q < 0 {
		tz, q = 0x08, -q
	}
	swap := func(v int) byte { return byte(v%10)<<4 | byte(v/10%10) }
	b = append(b, swap(t.Year()%100), swap(int(t.Month())), swap(t.Day()), swap(t.Hour()), swap(t.Minute()), swap(t.Second()))
	return append(b, tz|byte(q/10%8)|byte(q%10)<<4)
}

// Encode returns d as an SMS-DELIVER PDU without an SMSC address (a
// single part: d.Concat is ignored) and its TPDU length. It is what a
// network would send; smsgw uses it in tests and in the simulated modem.
func (d Deliver) Encode() (string, int, error) {
	t := []byte{0x04}
	t, err := appendAddress(t, d.From)
	if err != nil {
		return "", 0, err
	}
	if septets, ok := EncodeGSM7(d.Text); ok && len(septets) <= gsm7Single {
		t = append(t, 0x00, 0x00)
		t = appendTime(t, d.SentAt)
		t = append(t, byte(len(septets)))
		t = append(t, Pack(septets, 0)...)
	} else {
		units := utf16.Encode([]rune(d.Text))
		if len(units) > ucs2Single {
			return "", 0, fmt.Errorf("pdu: text too long for one part")
		}
		t = append(t, 0x00, 0x08)
		t = appendTime(t, d.SentAt)
		t = append(t, byte(2*len(units)))
		for _, u := range units {
			t = append(t, byte(u>>8), byte(u))
		}
	}
	return "00" + strings.ToUpper(hex.EncodeToString(t)), len(t), nil
}

// Encode returns r as an SMS-STATUS-REPORT PDU without an SMSC address and
// its TPDU length.
func (r StatusReport) Encode() (string, int, error) {
	t := []byte{0x06, r.MR}
	t, err := appendAddress(t, r.Recipient)
	if err != nil {
		return "", 0, err
	}
	t = appendTime(t, r.SCTS)
	t = appendTime(t, r.Discharge)
	t = append(t, r.Status)
	return "00" + strings.ToUpper(hex.EncodeToString(t)), len(t), nil
}
