package pdu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Concat identifies one part of a concatenated message.
type Concat struct {
	Ref   uint16
	Total int
	Seq   int
}

// Deliver is a decoded SMS-DELIVER: a message someone sent us.
type Deliver struct {
	From string
	// SentAt is the service centre time stamp; zero when it was invalid.
	SentAt time.Time
	Text   string
	// Concat is set when the message is one part of a longer one.
	Concat *Concat
}

// StatusReport is a decoded SMS-STATUS-REPORT.
type StatusReport struct {
	// MR is the message reference of the SMS-SUBMIT it reports on.
	MR        byte
	Recipient string
	// SCTS is when the service centre took the message; Discharge when the
	// status below was reached. Either is zero when invalid.
	SCTS      time.Time
	Discharge time.Time
	// Status is TP-ST (TS 23.040 §9.2.3.15).
	Status byte
}

// Outcome is what a TP-ST value means for the message.
type Outcome int

// Outcomes of a status report.
const (
	// Delivered: the recipient has it.
	Delivered Outcome = iota
	// Pending: the service centre is still trying; another report may follow.
	Pending
	// Failed: the service centre gave up.
	Failed
)

// Outcome classifies r.Status. Reserved values count as failed.
func (r StatusReport) Outcome() Outcome {
	switch st := r.Status; {
	case st <= 0x1F:
		return Delivered
	case st <= 0x3F:
		return Pending
	default:
		return Failed
	}
}

// alphabet returns the alphabet a TP-DCS value selects (TS 23.038 §4):
// 0 GSM 7-bit, 1 8-bit data, 2 UCS-2.
func alphabet(dcs byte) int {
	switch {
	case dcs&0x80 == 0: // general data coding, with or without auto-deletion
		if dcs&0x20 != 0 { // compressed: not supported, treat as data
			return 1
		}
		switch (dcs >> 2) & 0x03 {
		case 1:
			return 1
		case 2:
			return 2
		}
		return 0
	case dcs&0xF0 == 0xE0:
		return 2
	case dcs&0xF0 == 0xF0:
		if dcs&0x04 != 0 {
			return 1
		}
	}
	return 0
}

// DecodeDeliver decodes an SMS-DELIVER TPDU (without the SMSC address).
func DecodeDeliver(tpdu []byte) (Deliver, error) {
	r := &reader{b: tpdu}
	first := r.byte()
	if r.err == nil && first&0x03 != byte(TypeDeliver) {
		return Deliver{}, fmt.Errorf("pdu: message type %d is not SMS-DELIVER", first&0x03)
	}
	var d Deliver
	d.From = readAddress(r)
	r.byte() // TP-PID
	dcs := r.byte()
	d.SentAt = readTime(r)
	udl := int(r.byte())
	ud := r.rest()
	if r.err != nil {
		return Deliver{}, r.err
	}
	text, concat, err := decodeUserData(ud, udl, first&0x40 != 0, alphabet(dcs))
	if err != nil {
		return Deliver{}, err
	}
	d.Text, d.Concat = text, concat
	return d, nil
}

// decodeUserData decodes TP-UD of udl septets or octets.
func decodeUserData(ud []byte, udl int, udhi bool, alpha int) (string, *Concat, error) {
	var concat *Concat
	hdr := 0
	if udhi {
		if len(ud) == 0 {
			return "", nil, ErrShort
		}
		hdr = 1 + int(ud[0])
		if hdr > len(ud) {
			return "", nil, ErrShort
		}
		concat = parseConcat(ud[1:hdr])
	}
	if alpha == 0 {
		if udl*7 > len(ud)*8+7 {
			return "", nil, fmt.Errorf("pdu: %d septets announced in %d octets: %w", udl, len(ud), ErrShort)
		}
		septets := Unpack(ud, 0, udl)
		skip := (hdr*8 + 6) / 7
		if skip > len(septets) {
			return "", nil, ErrShort
		}
		return DecodeGSM7(septets[skip:]), concat, nil
	}
	if udl > len(ud) {
		return "", nil, fmt.Errorf("pdu: %d octets announced, %d present: %w", udl, len(ud), ErrShort)
	}
	if hdr > udl {
		return "", nil, ErrShort
	}
	data := ud[hdr:udl]
	if alpha == 1 {
		if utf8.Valid(data) {
			return string(data), concat, nil
		}
		return hex.EncodeToString(data), concat, nil
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
	}
	return string(utf16.Decode(units)), concat, nil
}

// parseConcat finds a concatenation element (IEI 0x00 or 0x08) in a user
// data header.
func parseConcat(h []byte) *Concat {
	for len(h) >= 2 {
		iei, n := h[0], int(h[1])
		if 2+n > len(h) {
			return nil
		}
		v := h[2 : 2+n]
		switch {
		case iei == 0x00 && n == 3:
			return &Concat{Ref: uint16(v[0]), Total: int(v[1]), Seq: int(v[2])}
		case iei == 0x08 && n == 4:
			return &Concat{Ref: uint16(v[0])<<8 | uint16(v[1]), Total: int(v[2]), Seq: int(v[3])}
		}
		h = h[2+n:]
	}
	return nil
}

// DecodeStatusReport decodes an SMS-STATUS-REPORT TPDU (without the SMSC
// address). Optional parameters after TP-ST are ignored.
func DecodeStatusReport(tpdu []byte) (StatusReport, error) {
	r := &reader{b: tpdu}
	first := r.byte()
	if r.err == nil && first&0x03 != byte(TypeStatusReport) {
		return StatusReport{}, fmt.Errorf("pdu: message type %d is not SMS-STATUS-REPORT", first&0x03)
	}
	var s StatusReport
	s.MR = r.byte()
	s.Recipient = readAddress(r)
	s.SCTS = readTime(r)
	s.Discharge = readTime(r)
	s.Status = r.byte()
	if r.err != nil {
		return StatusReport{}, r.err
	}
	return s, nil
}

// ErrNotDecodable is returned by Decode for message types it does not read.
var ErrNotDecodable = errors.New("pdu: message type not decodable")

// Decode decodes a received PDU as +CMGR, +CMT or +CDS show it: it returns
// a Deliver or a StatusReport.
func Decode(hexPDU string, tpduLen int) (any, error) {
	_, tpdu, err := SplitSMSC(hexPDU, tpduLen)
	if err != nil {
		return nil, err
	}
	mt, err := TypeOf(tpdu)
	if err != nil {
		return nil, err
	}
	switch mt {
	case TypeDeliver:
		return DecodeDeliver(tpdu)
	case TypeStatusReport:
		return DecodeStatusReport(tpdu)
	}
	return nil, fmt.Errorf("%w: %d", ErrNotDecodable, mt)
}
