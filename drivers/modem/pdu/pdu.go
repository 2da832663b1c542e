// Package pdu encodes SMS-SUBMIT and decodes SMS-DELIVER and
// SMS-STATUS-REPORT transfer protocol data units as a GSM modem exchanges
// them in PDU mode (3GPP TS 23.040, alphabets from TS 23.038).
//
// A PDU on the AT interface is the service centre (SMSC) address followed by
// the TPDU. Encoding produces hex ready for AT+CMGS together with the TPDU
// length the command takes; decoding accepts PDUs with or without the SMSC
// address and tells them apart by the length the modem announced.
package pdu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrShort is returned when a PDU ends before a field it announces.
var ErrShort = errors.New("pdu: truncated")

// Type of address octets (TS 23.040 §9.1.2.5).
const (
	toaInternational = 0x91
	toaUnknown       = 0x81
)

// reader reads octets from a TPDU and remembers the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = ErrShort
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = ErrShort
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	v := r.b[r.off:]
	r.off = len(r.b)
	return v
}

// semiOctets are the characters of the BCD digits 0x0 to 0xE (TS 23.040
// §9.1.2.3); 0xF pads an odd number of digits.
const semiOctets = "0123456789*#abc"

// encodeAddress returns the type-of-address octet and swapped BCD digits of
// number: a leading + means international format.
func encodeAddress(number string) (digits int, toa byte, bcd []byte, err error) {
	toa = toaUnknown
	if strings.HasPrefix(number, "+") {
		toa = toaInternational
		number = number[1:]
	}
	if number == "" || len(number) > 20 {
		return 0, 0, nil, fmt.Errorf("pdu: address %d digits long, want 1 to 20", len(number))
	}
	for i := 0; i < len(number); i += 2 {
		lo := number[i]
		hi := byte('F')
		if i+1 < len(number) {
			hi = number[i+1]
		}
		if lo < '0' || lo > '9' || (hi != 'F' && (hi < '0' || hi > '9')) {
			return 0, 0, nil, errors.New("pdu: address holds a character that is not a digit")
		}
		h := byte(0xF)
		if hi != 'F' {
			h = hi - '0'
		}
		bcd = append(bcd, h<<4|(lo-'0'))
	}
	return len(number), toa, bcd, nil
}

// decodeBCD reads swapped BCD digits, stopping at the 0xF filler.
func decodeBCD(b []byte, digits int) string {
	var s strings.Builder
	for _, o := range b {
		for _, n := range [2]byte{o & 0x0F, o >> 4} {
			if n == 0xF || s.Len() >= digits {
				return s.String()
			}
			s.WriteByte(semiOctets[n])
		}
	}
	return s.String()
}

// readAddress reads a TP address: digit count, type of address, value.
// Alphanumeric addresses (type of number 101) are GSM 7-bit text.
func readAddress(r *reader) string {
	n := int(r.byte())
	toa := r.byte()
	v := r.bytes((n + 1) / 2)
	if r.err != nil {
		return ""
	}
	if toa&0x70 == 0x50 {
		return DecodeGSM7(Unpack(v, 0, n*4/7))
	}
	s := decodeBCD(v, n)
	if toa&0x70 == 0x10 && s != "" {
		s = "+" + s
	}
	return s
}

// readSMSC reads the SMSC address field at the start of an AT-interface
// PDU: its length counts octets, type of address included.
func readSMSC(r *reader) string {
	n := int(r.byte())
	if n == 0 {
		return ""
	}
	toa := r.byte()
	v := r.bytes(n - 1)
	if r.err != nil {
		return ""
	}
	s := decodeBCD(v, 2*len(v))
	if toa&0x70 == 0x10 && s != "" {
		s = "+" + s
	}
	return s
}

// readTime reads a 7-octet service centre time stamp (TS 23.040
// §9.2.3.11). It returns the zero time when the octets are not a valid
// date, which some networks send.
func readTime(r *reader) time.Time {
	b := r.bytes(7)
	if r.err != nil {
		return time.Time{}
	}
	var f [6]int
	for i := range 6 {
		lo, hi := b[i]&0x0F, b[i]>>4
		if lo > 9 || hi > 9 {
			return time.Time{}
		}
		f[i] = int(lo)*10 + int(hi)
	}
	tz := b[6]
	quarters := int(tz&0x07)*10 + int(tz>>4)
	if tz>>4 > 9 {
		return time.Time{}
	}
	if tz&0x08 != 0 {
		quarters = -quarters
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}
	}
	loc := time.FixedZone("", quarters*15*60)
	return time.Date(2000+f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, loc)
}

// SplitSMSC separates the SMSC address from the TPDU in hexPDU, a PDU as
// +CMGR, +CMT or +CDS show it. tpduLen is the length those responses
// announce, which counts the TPDU only: when the PDU is longer, the extra
// octets are the SMSC address. A negative tpduLen means the PDU starts
// with an SMSC address field.
func SplitSMSC(hexPDU string, tpduLen int) (smsc string, tpdu []byte, err error) {
	b, err := hex.DecodeString(strings.TrimSpace(hexPDU))
	if err != nil {
		return "", nil, fmt.Errorf("pdu: not hex: %w", err)
	}
	if tpduLen >= 0 && len(b) == tpduLen {
		return "", b, nil
	}
	r := &reader{b: b}
	smsc = readSMSC(r)
	if r.err != nil {
		return "", nil, r.err
	}
	tpdu = r.rest()
	if tpduLen >= 0 && len(tpdu) != tpduLen {
		return "", nil, fmt.Errorf("pdu: %d octets after the SMSC address, the modem announced %d", len(tpdu), tpduLen)
	}
	return smsc, tpdu, nil
}

// MessageType is the TP-MTI of a TPDU as the mobile station receives it.
type MessageType byte

// Message types of received TPDUs (TS 23.040 §9.2.3.1).
const (
	TypeDeliver      MessageType = 0
	TypeSubmitReport MessageType = 1
	TypeStatusReport MessageType = 2
)

// TypeOf returns the message type of a received TPDU.
func TypeOf(tpdu []byte) (MessageType, error) {
	if len(tpdu) == 0 {
		return 0, ErrShort
	}
	return MessageType(tpdu[0] & 0x03), nil
}
