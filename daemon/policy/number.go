package policy

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Recipient refusal codes.
const (
	CodeRecipientInvalid     = "recipient_invalid"
	CodeRecipientShortCode   = "recipient_short_code"
	CodeRecipientPremiumRate = "recipient_premium_rate"
	CodeRecipientFixedLine   = "recipient_fixed_line"
	CodeCountryNotAllowed    = "country_not_allowed"
)

// maxNumberLen bounds the raw recipient before it is parsed.
const maxNumberLen = 40

// NumberRules say which recipients are acceptable.
type NumberRules struct {
	// DefaultRegion reads numbers written without a country code; empty
	// requires the international form.
	DefaultRegion string
	// AllowedCountries, when not empty, lists the acceptable regions.
	AllowedCountries []string
	// RefuseFixedLine refuses numbers known to be fixed lines.
	RefuseFixedLine bool
}

// NumberError says why a recipient is refused. Code is stable.
type NumberError struct {
	Code   string
	Detail string
}

func (e *NumberError) Error() string { return e.Code + ": " + e.Detail }

// Number is a normalised recipient.
type Number struct {
	// E164 is the number in E.164 form, such as +33612345678.
	E164 string
	// Region is its ISO 3166 region, such as FR.
	Region string
}

// Normalize reads raw (international, or national in the default region),
// and returns it in E.164 form, or a *NumberError: invalid numbers, short
// codes and premium-rate or shared-cost numbers are always refused; fixed
// lines and regions outside AllowedCountries as configured.
func (r NumberRules) Normalize(raw string) (Number, error) {
	invalid := func(detail string) (Number, error) {
		return Number{}, &NumberError{Code: CodeRecipientInvalid, Detail: detail}
	}
	const giveE164 = "Give the recipient in E.164 form: a plus sign, the country code and the number, such as +33612345678."
	if raw == "" || len(raw) > maxNumberLen || strings.ContainsFunc(raw, unicode.IsControl) {
		return invalid(giveE164)
	}
	region := r.DefaultRegion
	if region == "" {
		if !strings.HasPrefix(strings.TrimSpace(raw), "+") {
			return invalid(giveE164)
		}
		region = "ZZ"
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return invalid(giveE164)
	}
	if !phonenumbers.IsValidNumber(num) {
		// A short code is written as dialled, without a country code.
		if !strings.HasPrefix(strings.TrimSpace(raw), "+") && phonenumbers.IsValidShortNumber(num) {
			return Number{}, &NumberError{Code: CodeRecipientShortCode,
				Detail: "Send to a full mobile number: short codes reach services, not people."}
		}
		return invalid("Check the recipient: it is not a valid phone number; give it in E.164 form such as +33612345678.")
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return Number{}, &NumberError{Code: CodeRecipientPremiumRate,
			Detail: "Send to a personal mobile number: premium-rate and shared-cost numbers are refused."}
	case phonenumbers.FIXED_LINE:
		if r.RefuseFixedLine {
			return Number{}, &NumberError{Code: CodeRecipientFixedLine,
				Detail: "Send to a mobile number: this is a fixed line, which cannot receive SMS."}
		}
	}
	n := Number{
		E164:   phonenumbers.Format(num, phonenumbers.E164),
		Region: phonenumbers.GetRegionCodeForNumber(num),
	}
	if len(r.AllowedCountries) > 0 && !slices.Contains(r.AllowedCountries, n.Region) {
		return Number{}, &NumberError{Code: CodeCountryNotAllowed,
			Detail: fmt.Sprintf("Send to a number of %s: this gateway does not send to region %s.", strings.Join(r.AllowedCountries, ", "), orUnknown(n.Region))}
	}
	return n, nil
}

func orUnknown(region string) string {
	if region == "" || region == "ZZ" {
		return "unknown"
	}
	return region
}
