package adb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
)

// shellPackage is the package of the adb shell's uid: the one AppOps
// accepts for a SEND_SMS note by that uid.
const shellPackage = "com.android.shell"

// ismsLabel names the isms command in errors, which must never carry its
// command line (the recipient's number and the message text).
const ismsLabel = "service call isms"

// ismsCommand returns the `service call isms` command line that sends text
// to dest on Android sdk, or an error when the layout for that version is
// not known. sub is the subscription id (Android 6+); pkg the calling
// package, where empty means com.android.shell, or on Android 11+ a null
// package, which Android replaces with the caller's own.
//
// The codes are the method positions in ISms.aidl; null strings are written
// as i32 -1, null PendingIntents as i32 0, booleans as i32 0|1.
func ismsCommand(sdk, sub int, pkg, dest, text string) (string, error) {
	q := adbwire.Quote
	pkgArg := func(null bool) string {
		switch {
		case pkg != "":
			return "s16 " + q(pkg)
		case null:
			return "i32 -1"
		default:
			return "s16 " + q(shellPackage)
		}
	}
	switch {
	case sdk >= 30: // 11+: sendTextForSubscriber(subId, pkg, attributionTag, dest, sc, text, sentPI, deliveryPI, persist, messageId)
		return fmt.Sprintf("service call isms 5 i32 %d %s i32 -1 s16 %s i32 -1 s16 %s i32 0 i32 0 i32 1 i64 0", sub, pkgArg(true), q(dest), q(text)), nil
	case sdk >= 23: // 6–10: sendTextForSubscriber(subId, pkg, dest, sc, text, sentPI, deliveryPI, persist)
		return fmt.Sprintf("service call isms 6 i32 %d %s s16 %s i32 -1 s16 %s i32 0 i32 0 i32 1", sub, pkgArg(false), q(dest), q(text)), nil
	case sdk >= 21: // 5.x: sendText(pkg, dest, sc, text, sentPI, deliveryPI)
		return fmt.Sprintf("service call isms 9 %s s16 %s i32 -1 s16 %s i32 0 i32 0", pkgArg(false), q(dest), q(text)), nil
	case sdk == 19 || sdk == 20: // 4.4
		return fmt.Sprintf("service call isms 5 %s s16 %s i32 -1 s16 %s i32 0 i32 0", pkgArg(false), q(dest), q(text)), nil
	}
	return "", fmt.Errorf("no isms layout for Android SDK %d", sdk)
}

// Parcel exception codes (the reply's first word).
const (
	exSecurity         = -1
	exBadParcelable    = -2
	exIllegalArgument  = -3
	exNullPointer      = -4
	exIllegalState     = -5
	exUnsupportedOp    = -7
	exServiceSpecific  = -8
	exHasReplyHeader   = -128
	exTransactionError = -129
)

// subscription returns the subscription id isms sends with.
func (d *Driver) subscription(ctx context.Context, sdk int) int {
	if d.opts.Subscription != nil {
		return *d.opts.Subscription
	}
	if sdk >= 28 {
		return -1 // Android 9+ falls back to the default phone
	}
	if res, err := d.dev.Shell(ctx, "dumpsys isub"); err == nil {
		if id, ok := ParseDefaultSMSSub(string(res.Stdout)); ok {
			return id
		}
	}
	return 1
}

// sendISMS sends m with `service call isms`. Android gives no delivery
// feedback on this path: success means Android took the message.
func (d *Driver) sendISMS(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	if len(m.Segments.Parts) > 1 {
		return drivers.Receipt{}, drivers.Permanent(CodeMultipart, "isms mode sends single-part messages only", nil)
	}
	d.mu.Lock()
	sdk := d.sdk
	d.mu.Unlock()
	line, err := ismsCommand(sdk, d.subscription(ctx, sdk), d.opts.Package, m.To, m.Text)
	if err != nil {
		return drivers.Receipt{}, drivers.Permanent(CodeUnsupported, "", err)
	}
	// The command line holds the recipient and the text: errors name it by
	// ismsLabel only.
	cmd, err := d.dev.StartLabeled(ctx, line, ismsLabel)
	if err != nil {
		if errors.Is(err, adbwire.ErrAfterRequestSent) {
			// The request reached the adb server and only its answer was
			// lost: the phone may have run it, and the SMS may have left.
			d.poke()
			return drivers.Receipt{}, drivers.Uncertain(CodeISMSNoAnswer, "the command reached the adb server but its answer was lost", err)
		}
		// The server refused the command, or it never reached the server:
		// nothing was sent.
		return drivers.Receipt{}, d.deviceError(ctx, err)
	}
	res, err := cmd.Wait()
	var ee *adbwire.ExitError
	switch {
	case errors.As(err, &ee):
		// `service` fails only on usage errors or a missing service.
		return drivers.Receipt{}, drivers.Permanent(CodeISMSFailed, "service call isms exited with status "+strconv.Itoa(ee.Code), nil)
	case err != nil:
		d.poke()
		return drivers.Receipt{}, drivers.Uncertain(CodeISMSNoAnswer, "the phone took the command but its answer was lost", err)
	}
	reply, err := ParseParcelReply(string(res.Stdout))
	if err != nil {
		// The parse error quotes the output, which a shell error could have
		// filled with the command line: it is left out.
		return drivers.Receipt{}, drivers.Uncertain(CodeISMSNoAnswer, "unreadable answer from service call isms", nil)
	}
	if reply.Exception != 0 {
		return drivers.Receipt{}, ismsException(reply)
	}
	return drivers.Receipt{Ref: "isms:" + m.ID, Parts: 1, DeliveryReports: false}, nil
}

// ismsException classifies an exception thrown by the isms call. Nothing was
// sent; only states that may pass are transient.
func ismsException(r ParcelReply) error {
	detail := fmt.Sprintf("exception %d", r.Exception)
	if r.Message != "" {
		detail += ": " + r.Message
	}
	switch r.Exception {
	case exSecurity:
		return drivers.Permanent(CodeISMSDenied, detail+" (the shell may not send SMS on this phone; use forward mode)", nil)
	case exIllegalState, exServiceSpecific, exTransactionError:
		return drivers.Transient(CodeISMSException, detail, nil)
	case exBadParcelable, exIllegalArgument, exNullPointer, exUnsupportedOp:
		return drivers.Permanent(CodeISMSException, detail+" (the isms layout does not match this phone)", nil)
	}
	return drivers.Permanent(CodeISMSException, detail, nil)
}

// ParcelReply is the parsed output of `service call`.
type ParcelReply struct {
	Words     []uint32
	Exception int32
	// Message is the printable text service call showed beside the words.
	Message string
}

// ParseParcelReply parses "Result: Parcel(…)" as printed by `service call`,
// in its one-line form "Parcel(00000000 '....')" and its dump form
// "0x00000000: ffffffff 00000000 '…'" lines. A reply header (-128) means no
// exception.
func ParseParcelReply(s string) (ParcelReply, error) {
	i := strings.Index(s, "Parcel(")
	if i < 0 {
		return ParcelReply{}, fmt.Errorf("no Parcel in %q", clip(s))
	}
	body := s[i+len("Parcel("):]
	if j := strings.LastIndex(body, ")"); j >= 0 {
		body = body[:j]
	}
	var r ParcelReply
	var msg strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		if q := strings.Index(line, "'"); q >= 0 {
			msg.WriteString(strings.TrimSuffix(line[q+1:], "'"))
			line = line[:q]
		}
		for f := range strings.FieldsSeq(line) {
			if strings.HasPrefix(f, "0x") && strings.HasSuffix(f, ":") {
				continue // offset
			}
			if len(f) != 8 {
				continue
			}
			w, err := strconv.ParseUint(f, 16, 32)
			if err != nil {
				continue
			}
			r.Words = append(r.Words, uint32(w))
		}
	}
	if len(r.Words) == 0 {
		if strings.Contains(body, "Error") || strings.Contains(body, "error") {
			return ParcelReply{}, fmt.Errorf("service call failed: %q", clip(body))
		}
		return ParcelReply{}, fmt.Errorf("empty Parcel in %q", clip(s))
	}
	r.Exception = int32(r.Words[0])
	if r.Exception == exHasReplyHeader {
		// A reply header (strict-mode data) and no exception.
		r.Exception = 0
	}
	r.Message = strings.Trim(strings.ReplaceAll(msg.String(), ".", ""), " ")
	return r, nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
