package pdu

import "strings"

// esc is the GSM 7-bit escape to the extension table (3GPP TS 23.038 §6.2.1).
const esc = 0x1B

// basic is the GSM 7-bit default alphabet indexed by septet value
// (3GPP TS 23.038 §6.2.1). Position 0x1B is the escape and never decodes to
// itself.
var basic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\x1b', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// extension is the GSM 7-bit extension table: the septet that follows an
// escape, and the character it stands for.
var extension = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

var (
	basicIndex = func() map[rune]byte {
		m := make(map[rune]byte, 128)
		for i, r := range basic {
			if i != esc {
				m[r] = byte(i)
			}
		}
		return m
	}()
	extensionIndex = func() map[rune]byte {
		m := make(map[rune]byte, len(extension))
		for b, r := range extension {
			m[r] = b
		}
		return m
	}()
)

// GSM7Septets returns the septets for r: one for a character of the default
// alphabet, two (escape first) for one of the extension table, and false
// when r cannot be written in GSM 7-bit.
func GSM7Septets(r rune) ([]byte, bool) {
	if b, ok := basicIndex[r]; ok {
		return []byte{b}, true
	}
	if b, ok := extensionIndex[r]; ok {
		return []byte{esc, b}, true
	}
	return nil, false
}

// EncodeGSM7 returns the unpacked septets of s, or false when some
// character of s is not in the GSM 7-bit alphabet.
func EncodeGSM7(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		sep, ok := GSM7Septets(r)
		if !ok {
			return nil, false
		}
		out = append(out, sep...)
	}
	return out, true
}

// DecodeGSM7 turns unpacked septets into text. An escape followed by a
// septet the extension table does not define decodes as that septet's
// default-alphabet character, as receivers are told to do; a trailing
// escape decodes as a space.
func DecodeGSM7(septets []byte) string {
	var b strings.Builder
	for i := 0; i < len(septets); i++ {
		s := septets[i] & 0x7F
		if s != esc {
			b.WriteRune(basic[s])
			continue
		}
		if i+1 >= len(septets) {
			b.WriteRune(' ')
			break
		}
		i++
		n := septets[i] & 0x7F
		if r, ok := extension[n]; ok {
			b.WriteRune(r)
		} else if n == esc {
			b.WriteRune(' ')
		} else {
			b.WriteRune(basic[n])
		}
	}
	return b.String()
}

// Pack packs septets LSB first, starting after fill bits of padding (used
// to align septets after a user data header).
func Pack(septets []byte, fill int) []byte {
	nbits := fill + 7*len(septets)
	out := make([]byte, (nbits+7)/8)
	bit := fill
	for _, s := range septets {
		v := uint16(s&0x7F) << (bit % 8)
		out[bit/8] |= byte(v)
		if bit/8+1 < len(out) {
			out[bit/8+1] |= byte(v >> 8)
		}
		bit += 7
	}
	return out
}

// Unpack reads n septets packed LSB first after fill bits of padding. It
// returns fewer than n septets when data is too short.
func Unpack(data []byte, fill, n int) []byte {
	out := make([]byte, 0, n)
	for i := range n {
		bit := fill + 7*i
		if (bit+6)/8 >= len(data) {
			break
		}
		v := uint16(data[bit/8])
		if bit/8+1 < len(data) {
			v |= uint16(data[bit/8+1]) << 8
		}
		out = append(out, byte(v>>(bit%8))&0x7F)
	}
	return out
}
