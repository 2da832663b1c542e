package at

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SplitTokens is a bufio.SplitFunc for a modem's output: it returns lines
// without their CR/LF, skips empty ones, and returns the SMS prompt ">"
// (which has no line end) as a token of its own, swallowing the space after
// it.
func SplitTokens(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := 0
	for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i == len(data) {
		return i, nil, nil
	}
	if data[i] == '>' {
		j := i + 1
		if j < len(data) && data[j] == ' ' {
			j++
		}
		return j, data[i : i+1], nil
	}
	if k := bytes.IndexAny(data[i:], "\r\n"); k >= 0 {
		return i + k + 1, data[i : i+k], nil
	}
	if atEOF {
		return len(data), data[i:], nil
	}
	return i, nil, nil
}

// urcPrefixes are the unsolicited result codes smsgw knows, standard
// (3GPP TS 27.005, 27.007) and common vendor ones. The value is true when
// a PDU line follows.
var urcPrefixes = []struct {
	prefix  string
	withPDU bool
}{
	{"+CMTI:", false}, {"+CDSI:", false}, {"+CMT:", true}, {"+CDS:", true}, {"+CBM:", true},
	{"+CREG:", false}, {"+CGREG:", false}, {"+CEREG:", false},
	{"RING", false}, {"+CRING:", false}, {"+CLIP:", false}, {"+CIEV:", false},
	{"+CUSD:", false}, {"+CPIN:", false}, {"+QIND:", false}, {"+ZDONR:", false},
	{"+ZPASR:", false}, {"+ZUSIMR:", false}, {"+PBREADY", false}, {"RDY", false},
	{"+CFUN:", false}, {"+STIN:", false}, {"+CSQN:", false},
}

// IsURC reports whether line is an unsolicited result code, and whether a
// PDU line follows it. Every line starting with "^" is a vendor URC.
func IsURC(line string) (withPDU, ok bool) {
	if strings.HasPrefix(line, "^") {
		return false, true
	}
	for _, u := range urcPrefixes {
		if strings.HasPrefix(line, u.prefix) {
			return u.withPDU, true
		}
	}
	return false, false
}

// ParseFinal reports whether line is a final result code and, when it is an
// error result, returns it as an *Error.
func ParseFinal(line string) (final bool, err error) {
	switch line {
	case "OK":
		return true, nil
	case "ERROR", "NO CARRIER", "NO DIALTONE", "BUSY", "NO ANSWER", "COMMAND NOT SUPPORT":
		return true, &Error{Kind: KindError, Code: -1, Text: line}
	}
	for _, k := range []Kind{KindCME, KindCMS} {
		p := "+" + string(k) + " ERROR:"
		if rest, ok := strings.CutPrefix(line, p); ok {
			rest = strings.TrimSpace(rest)
			code, cerr := strconv.Atoi(rest)
			if cerr != nil || code < 0 {
				code = -1
			}
			return true, &Error{Kind: k, Code: code, Text: rest}
		}
	}
	return false, nil
}

// ErrSyntax is returned by the parsers for a line they cannot read.
var ErrSyntax = errors.New("at: unexpected response")

// fields splits the parameters after "prefix:" at commas outside quotes,
// unquoting each.
func fields(line, prefix string) ([]string, error) {
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: want %s", ErrSyntax, prefix)
	}
	rest = strings.TrimSpace(rest)
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(rest); i++ {
		switch ch := rest[i]; {
		case ch == '"':
			quoted = !quoted
		case ch == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, strings.TrimSpace(cur.String())), nil
}

func atoi(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a number", ErrSyntax, s)
	}
	return n, nil
}

// ParseCSQ reads "+CSQ: <rssi>,<ber>" and returns the signal in dBm
// (-113 + 2·rssi, 3GPP TS 27.007 §8.5); ok is false for 99, not known.
func ParseCSQ(line string) (dbm int, ok bool, err error) {
	f, err := fields(line, "+CSQ:")
	if err != nil {
		return 0, false, err
	}
	rssi, err := atoi(f[0])
	if err != nil {
		return 0, false, err
	}
	if rssi < 0 || rssi > 31 {
		return 0, false, nil
	}
	return -113 + 2*rssi, true, nil
}

// Registration is a network registration state (<stat> of +CREG, +CGREG,
// +CEREG).
type Registration int

// Registration states.
const (
	RegNotSearching Registration = 0
	RegHome         Registration = 1
	RegSearching    Registration = 2
	RegDenied       Registration = 3
	RegUnknown      Registration = 4
	RegRoaming      Registration = 5
	RegSMSOnlyHome  Registration = 6
	RegSMSOnlyRoam  Registration = 7
)

// Registered reports whether SMS can be sent in state r.
func (r Registration) Registered() bool {
	switch r {
	case RegHome, RegRoaming, RegSMSOnlyHome, RegSMSOnlyRoam:
		return true
	}
	return false
}

func (r Registration) String() string {
	switch r {
	case RegNotSearching:
		return "not registered, not searching"
	case RegHome:
		return "registered, home network"
	case RegSearching:
		return "searching for a network"
	case RegDenied:
		return "registration denied"
	case RegRoaming:
		return "registered, roaming"
	case RegSMSOnlyHome:
		return "registered for SMS, home network"
	case RegSMSOnlyRoam:
		return "registered for SMS, roaming"
	}
	return "registration unknown"
}

// ParseRegistration reads the answer to AT+CREG?, AT+CGREG? or AT+CEREG?
// ("+CREG: <n>,<stat>[,...]") and the unsolicited form ("+CREG: <stat>[,...]").
func ParseRegistration(line string) (Registration, error) {
	var prefix string
	for _, p := range []string{"+CREG:", "+CGREG:", "+CEREG:"} {
		if strings.HasPrefix(line, p) {
			prefix = p
		}
	}
	if prefix == "" {
		return RegUnknown, fmt.Errorf("%w: not a registration line", ErrSyntax)
	}
	f, err := fields(line, prefix)
	if err != nil {
		return RegUnknown, err
	}
	// The answer to the read command has <n> first; the URC does not. With
	// location fields (quoted hex) the second field is still <stat>.
	i := 0
	if len(f) >= 2 && len(f[1]) == 1 {
		i = 1
	}
	st, err := atoi(f[i])
	if err != nil {
		return RegUnknown, err
	}
	return Registration(st), nil
}

// ParseCPIN reads "+CPIN: <code>" (READY, SIM PIN, SIM PUK, ...).
func ParseCPIN(line string) (string, error) {
	f, err := fields(line, "+CPIN:")
	if err != nil {
		return "", err
	}
	return f[0], nil
}

// ParseCMGS reads "+CMGS: <mr>[,...]" and returns the message reference.
func ParseCMGS(line string) (int, error) {
	f, err := fields(line, "+CMGS:")
	if err != nil {
		return 0, err
	}
	mr, err := atoi(f[0])
	if err != nil {
		return 0, err
	}
	if mr < 0 || mr > 255 {
		return 0, fmt.Errorf("%w: message reference %d", ErrSyntax, mr)
	}
	return mr, nil
}

// ParseCOPS reads "+COPS: <mode>[,<format>,<oper>[,<AcT>]]" and returns the
// operator, empty when not registered.
func ParseCOPS(line string) (string, error) {
	f, err := fields(line, "+COPS:")
	if err != nil {
		return "", err
	}
	if len(f) < 3 {
		return "", nil
	}
	return f[2], nil
}

// ParseCSCA reads "+CSCA: <sca>,<tosca>" and returns the SMSC number.
func ParseCSCA(line string) (string, error) {
	f, err := fields(line, "+CSCA:")
	if err != nil {
		return "", err
	}
	return f[0], nil
}

// ParseIndex reads a storage indication, "+CMTI: <mem>,<index>" or
// "+CDSI: <mem>,<index>".
func ParseIndex(line string) (mem string, index int, err error) {
	prefix := "+CMTI:"
	if strings.HasPrefix(line, "+CDSI:") {
		prefix = "+CDSI:"
	}
	f, err := fields(line, prefix)
	if err != nil {
		return "", 0, err
	}
	if len(f) < 2 {
		return "", 0, fmt.Errorf("%w: %s without an index", ErrSyntax, prefix)
	}
	index, err = atoi(f[1])
	if err != nil || index < 0 {
		return "", 0, fmt.Errorf("%w: bad index", ErrSyntax)
	}
	return f[0], index, nil
}

// ParsePDULength reads the TPDU length from the header line of a PDU:
// "+CMT: [<alpha>],<length>", "+CDS: <length>" or
// "+CMGR: <stat>,[<alpha>],<length>". The length is the last field.
func ParsePDULength(line string) (int, error) {
	i := strings.IndexByte(line, ':')
	if i < 0 {
		return 0, fmt.Errorf("%w: no colon", ErrSyntax)
	}
	f, err := fields(line, line[:i+1])
	if err != nil {
		return 0, err
	}
	n, err := atoi(f[len(f)-1])
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 255 {
		return 0, fmt.Errorf("%w: length %d", ErrSyntax, n)
	}
	return n, nil
}
