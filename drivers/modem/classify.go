package modem

import (
	"context"
	"errors"
	"fmt"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/modem/at"
)

// Reason codes of the errors the modem driver returns, besides
// "cms_<n>" and "cme_<n>" for the modem's own error results.
const (
	CodeClosed      = "closed"
	CodeCancelled   = "cancelled"
	CodeExpired     = "expired"
	CodeModemDown   = "modem_down"
	CodeNoNetwork   = "no_network"
	CodeTimeout     = "timeout"
	CodeBadMessage  = "bad_message"
	CodePortClosed  = "port_closed"
	CodeError       = "modem_error"
	CodeSIMStopped  = "sim_pin_rejected"
	CodeUndelivered = "undelivered"
)

// cmsClass is what the driver makes of a +CMS ERROR code (3GPP TS 27.005
// §3.2.5: 0-127 are 24.011 RP causes, 128-255 TP-FCS values, 300-500 27.005
// codes, 512+ vendor codes).
type cmsClass int

const (
	cmsTransient cmsClass = iota
	cmsPermanent          // the message itself is refused
	cmsConfig             // the modem is set up wrongly: no use retrying on it
	cmsSIM                // SIM fault: the modem needs attention
	cmsUncertain          // the message may have left
)

// cmsTable classifies the codes with a known meaning; others are transient
// before the PDU left and uncertain after.
var cmsTable = map[int]struct {
	class cmsClass
	retry time.Duration
	what  string
}{
	1:   {cmsPermanent, 0, "unassigned number"},
	8:   {cmsPermanent, 0, "operator determined barring"},
	10:  {cmsPermanent, 0, "call barred"},
	17:  {cmsTransient, 30 * time.Second, "network failure"},
	21:  {cmsPermanent, 0, "short message transfer rejected"},
	22:  {cmsTransient, time.Minute, "congestion"},
	27:  {cmsTransient, 10 * time.Minute, "destination out of service"},
	28:  {cmsPermanent, 0, "unidentified subscriber"},
	29:  {cmsPermanent, 0, "facility rejected"},
	30:  {cmsPermanent, 0, "unknown subscriber"},
	38:  {cmsTransient, 5 * time.Minute, "network out of order"},
	41:  {cmsTransient, 10 * time.Second, "temporary failure"},
	42:  {cmsTransient, time.Minute, "congestion"},
	47:  {cmsTransient, time.Minute, "resources unavailable"},
	50:  {cmsConfig, 0, "SMS not subscribed on this SIM"},
	69:  {cmsConfig, 0, "facility not implemented"},
	81:  {cmsTransient, 10 * time.Second, "invalid transfer reference"},
	111: {cmsTransient, time.Minute, "protocol error"},
	127: {cmsTransient, time.Minute, "interworking error"},
	176: {cmsPermanent, 0, "TPDU not supported"},
	192: {cmsTransient, time.Minute, "service centre busy"},
	193: {cmsConfig, 0, "no service centre subscription"},
	194: {cmsTransient, time.Minute, "service centre failure"},
	195: {cmsPermanent, 0, "invalid destination address"},
	196: {cmsPermanent, 0, "destination barred"},
	197: {cmsUncertain, 0, "service centre already has this message"},
	198: {cmsPermanent, 0, "validity period format not supported"},
	199: {cmsPermanent, 0, "validity period not supported"},
	300: {cmsTransient, 30 * time.Second, "modem failure"},
	301: {cmsTransient, 30 * time.Second, "SMS service of the modem reserved"},
	302: {cmsTransient, 10 * time.Second, "operation not allowed"},
	303: {cmsConfig, 0, "operation not supported"},
	304: {cmsPermanent, 0, "invalid PDU"},
	305: {cmsTransient, 10 * time.Second, "modem in text mode"},
	310: {cmsSIM, 0, "SIM not inserted"},
	311: {cmsSIM, 0, "SIM PIN required"},
	312: {cmsSIM, 0, "PH-SIM PIN required"},
	313: {cmsSIM, 0, "SIM failure"},
	314: {cmsTransient, 5 * time.Second, "SIM busy"},
	315: {cmsSIM, 0, "SIM wrong"},
	316: {cmsSIM, 0, "SIM PUK required"},
	318: {cmsSIM, 0, "SIM PUK2 required"},
	320: {cmsTransient, time.Minute, "memory failure"},
	322: {cmsTransient, time.Minute, "memory full"},
	330: {cmsConfig, 0, "SMSC address unknown"},
	331: {cmsTransient, time.Minute, "no network service"},
	332: {cmsUncertain, 0, "network timeout"},
	500: {cmsUncertain, 0, "unknown error"},
	512: {cmsTransient, time.Minute, "network connection failed (weak signal)"},
	513: {cmsTransient, time.Minute, "lower layer failure"},
	514: {cmsTransient, time.Minute, "congestion"},
	515: {cmsTransient, 10 * time.Second, "modem busy"},
}

// configRetry is the RetryAfter of errors that need a person: the message
// may go through another driver meanwhile.
const configRetry = 30 * time.Minute

func lookupCMS(code int) (cmsClass, time.Duration, string, bool) {
	if e, ok := cmsTable[code]; ok {
		return e.class, e.retry, e.what, true
	}
	switch {
	case code >= 95 && code <= 99, code >= 128 && code <= 159:
		return cmsPermanent, 0, "message refused as malformed", true
	}
	return cmsTransient, 0, "", false
}

// classify turns a failed AT+CMGS into a driver error. submitted reports
// whether the PDU had been written to the modem.
func classify(err error, submitted bool) *drivers.Error {
	var ae *at.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if submitted {
			return drivers.Uncertain(CodeCancelled, "cancelled after the message was handed to the modem", err)
		}
		return drivers.Transient(CodeCancelled, "cancelled before the message left", err)
	case errors.Is(err, at.ErrTimeout):
		if submitted {
			return drivers.Uncertain(CodeTimeout, "no answer after the message was handed to the modem", err)
		}
		return drivers.Transient(CodeTimeout, "modem did not ask for the message", err)
	case errors.Is(err, at.ErrClosed):
		if submitted {
			return drivers.Uncertain(CodePortClosed, "port closed after the message was handed to the modem", err)
		}
		return drivers.Transient(CodePortClosed, "port closed before the message left", err)
	case errors.As(err, &ae) && ae.Kind == at.KindCMS && ae.Code >= 0:
		class, retry, what, known := lookupCMS(ae.Code)
		code := fmt.Sprintf("cms_%d", ae.Code)
		if !known {
			what = "error code unknown to smsgw"
			if submitted {
				class = cmsUncertain
			}
		}
		var de *drivers.Error
		switch class {
		case cmsPermanent:
			de = drivers.Permanent(code, what, err)
		case cmsUncertain:
			de = drivers.Uncertain(code, what, err)
		case cmsConfig, cmsSIM:
			de = drivers.Transient(code, what+": the modem needs attention", err)
			de.RetryAfter = configRetry
		default:
			de = drivers.Transient(code, what, err)
			de.RetryAfter = retry
		}
		return de
	case errors.As(err, &ae) && ae.Kind == at.KindCME:
		code := fmt.Sprintf("cme_%d", ae.Code)
		if ae.Code < 0 {
			code = "cme"
		}
		if submitted {
			// Some modems report network failures after the PDU this way;
			// the code does not prove that nothing left.
			return drivers.Uncertain(code, "modem error after the message was handed over", err)
		}
		return drivers.Transient(code, "modem refused the command", err)
	}
	if submitted {
		return drivers.Uncertain(CodeError, "modem error after the message was handed over", err)
	}
	return drivers.Transient(CodeError, "modem refused the command", err)
}

// needsBringUp reports whether err says the modem lost its set-up (SIM
// locked again, text mode) so that bring-up must run before the next send.
func needsBringUp(err error) bool {
	var ae *at.Error
	if !errors.As(err, &ae) || ae.Kind != at.KindCMS {
		return false
	}
	class, _, _, _ := lookupCMS(ae.Code)
	return class == cmsSIM || ae.Code == 305 || ae.Code == 302
}
