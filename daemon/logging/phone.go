package logging

import (
	"log/slog"
	"strings"
)

// Phone is a phone number that logs masked. Pass numbers to a logger as
// logging.Phone(n) so that no log line ever carries a full number.
type Phone string

// LogValue implements slog.LogValuer.
func (p Phone) LogValue() slog.Value { return slog.StringValue(MaskPhone(string(p))) }

// String returns the masked number, so that fmt verbs do not leak it either.
func (p Phone) String() string { return MaskPhone(string(p)) }

const (
	keepHead = 4 // "+336": country and network prefix
	keepTail = 2
	// minMasked is the shortest input shown partly; shorter inputs would
	// hide too little and are starred entirely.
	minMasked = keepHead + keepTail + 4
)

// MaskPhone keeps the first 4 and the last 2 characters of s and replaces
// the others with stars, so +33612345678 becomes +336******78. Inputs shorter
// than 10 characters are starred entirely; the length is kept.
func MaskPhone(s string) string {
	r := []rune(s)
	if len(r) < minMasked {
		return strings.Repeat("*", len(r))
	}
	return string(r[:keepHead]) + strings.Repeat("*", len(r)-keepHead-keepTail) + string(r[len(r)-keepTail:])
}
