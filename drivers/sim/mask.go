package sim

import "strings"

// mask hides the middle of a phone number for logs: "+33612345678" becomes
// "+336******78". Numbers too short to keep anything are fully hidden.
func mask(number string) string {
	const head, tail = 4, 2
	r := []rune(number)
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}
