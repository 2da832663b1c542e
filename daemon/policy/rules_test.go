package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

func TestNormalize(t *testing.T) {
	fr := NumberRules{DefaultRegion: "FR"}
	tests := []struct {
		name  string
		rules NumberRules
		raw   string
		want  string // E.164, or the refusal code
	}{
		{"e164", NumberRules{}, "+33612345678", "+33612345678"},
		{"spaces and dots", NumberRules{}, "+33 6.12.34.56.78", "+33612345678"},
		{"national with region", fr, "06 12 34 56 78", "+33612345678"},
		{"national without region", NumberRules{}, "0612345678", CodeRecipientInvalid},
		{"other country with region", fr, "+4915112345678", "+4915112345678"},
		{"not a number", fr, "hello", CodeRecipientInvalid},
		{"control character", NumberRules{}, "+33612345678\n", CodeRecipientInvalid},
		{"too long", NumberRules{}, "+33612345678" + strings.Repeat("9", 40), CodeRecipientInvalid},
		{"invalid for its country", NumberRules{}, "+3361234", CodeRecipientInvalid},
		{"short code", fr, "36111", CodeRecipientShortCode},
		{"premium rate", NumberRules{}, "+33899123456", CodeRecipientPremiumRate},
		{"fixed line allowed", NumberRules{}, "+33123456789", "+33123456789"},
		{"fixed line refused", NumberRules{RefuseFixedLine: true}, "+33123456789", CodeRecipientFixedLine},
		{"mobile with fixed lines refused", NumberRules{RefuseFixedLine: true}, "+33612345678", "+33612345678"},
		{"allowed country", NumberRules{AllowedCountries: []string{"FR", "BE"}}, "+32470123456", "+32470123456"},
		{"country not allowed", NumberRules{AllowedCountries: []string{"FR", "BE"}}, "+4915112345678", CodeCountryNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.rules.Normalize(tt.raw)
			var ne *NumberError
			switch {
			case errors.As(err, &ne):
				if ne.Code != tt.want {
					t.Errorf("refused with %s (%s), want %s", ne.Code, ne.Detail, tt.want)
				}
				if ne.Detail == "" || !strings.HasSuffix(ne.Detail, ".") {
					t.Errorf("detail %q is not a sentence", ne.Detail)
				}
			case err != nil:
				t.Fatalf("unclassified error %v", err)
			case n.E164 != tt.want:
				t.Errorf("normalised to %s, want %s", n.E164, tt.want)
			}
		})
	}
}

func TestMatchKeyword(t *testing.T) {
	tests := []struct {
		text string
		want Keyword
	}{
		{"STOP", KeywordStop}, {"stop", KeywordStop}, {"  Stop\n", KeywordStop}, {"Stop.", KeywordStop},
		{"STOPALL", KeywordStop}, {"stop all", KeywordStop}, {"Unsubscribe", KeywordStop}, {"cancel", KeywordStop},
		{"END", KeywordStop}, {"quit", KeywordStop}, {"revoke", KeywordStop}, {"OPT OUT", KeywordStop},
		{"opt-out", KeywordStop}, {"optout", KeywordStop},
		{"START", KeywordStart}, {"start", KeywordStart}, {"UNSTOP", KeywordStart}, {" un stop ", KeywordStart},
		{"", NoKeyword}, {"   ", NoKeyword}, {"please stop", NoKeyword}, {"don't stop", NoKeyword},
		{"STOP2", NoKeyword}, {"stopping", NoKeyword}, {"STARTED", NoKeyword}, {strings.Repeat("stop ", 20), NoKeyword},
	}
	for _, tt := range tests {
		if got := MatchKeyword(tt.text); got != tt.want {
			t.Errorf("MatchKeyword(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func rulesConfig() *config.Config {
	c := testConfig()
	c.Clients = []config.Client{{Name: "shop", Purposes: []string{"otp", "free"}}}
	c.Policy.AllowedCountries = []string{"FR"}
	c.Policy.Purposes["free"] = config.Purpose{TTL: config.Duration{Duration: time.Hour}, AllowFreeText: true, MaxSegments: 2}
	otp := c.Policy.Purposes["otp"]
	otp.MaxSegments = 1
	c.Policy.Purposes["otp"] = otp
	tpl := c.Policy.Templates["otp_code"]
	tpl.Params = map[string]config.Param{"code": {Secret: true, Pattern: "[0-9]{4,8}"}}
	c.Policy.Templates["otp_code"] = tpl
	return c
}

// TestPrepareRules covers each refusal code of the consent-first rules.
func TestPrepareRules(t *testing.T) {
	p := New(rulesConfig())
	otp := func(mod func(r *client.SubmitRequest)) client.SubmitRequest {
		r := client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": "123456"}}
		mod(r2(&r))
		return r
	}
	long := strings.Repeat("a", 400)
	tests := []struct {
		name   string
		client string
		req    client.SubmitRequest
		want   string // "" accepts
	}{
		{"accepted", "shop", otp(func(*client.SubmitRequest) {}), ""},
		{"unconfigured client may send any purpose", "local", client.SubmitRequest{To: "+33612345678", Purpose: "appointment_reminder", Template: "reminder_short", Params: map[string]string{"when": "Monday"}}, ""},
		{"purpose not listed for client", "shop", otp(func(r *client.SubmitRequest) { r.Purpose = "appointment_reminder" }), CodePurposeNotAllowed},
		{"pattern refuses letters", "shop", otp(func(r *client.SubmitRequest) { r.Params["code"] = "12ab" }), CodeTemplateParamInvalid},
		{"pattern is anchored", "shop", otp(func(r *client.SubmitRequest) { r.Params["code"] = "123456789012" }), CodeTemplateParamInvalid},
		{"country not allowed", "shop", otp(func(r *client.SubmitRequest) { r.To = "+4915112345678" }), CodeCountryNotAllowed},
		{"free text refused by purpose", "shop", otp(func(r *client.SubmitRequest) { r.Params = nil; r.Text = "hi" }), CodeFreeTextNotAllowed},
		{"free text allowed", "shop", client.SubmitRequest{To: "+33612345678", Purpose: "free", Text: "Your parcel is ready."}, ""},
		{"free text and template", "shop", client.SubmitRequest{To: "+33612345678", Purpose: "free", Template: "otp_code", Text: "x"}, CodeFreeTextNotAllowed},
		{"free text too many segments", "shop", client.SubmitRequest{To: "+33612345678", Purpose: "free", Text: long}, CodeTooManySegments},
		{"free text with control chars", "shop", client.SubmitRequest{To: "+33612345678", Purpose: "free", Text: "a\x00b"}, CodeTextInvalid},
		{"pattern accepts four digits", "local", client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": "1234"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ref := p.Prepare(tt.req, tt.client, time.Now())
			switch {
			case tt.want == "" && ref != nil:
				t.Fatalf("refused: %v", ref)
			case tt.want == "":
				if m.To != "+33612345678" || m.Text != tt.req.Text {
					t.Errorf("message %+v", m)
				}
			case ref == nil:
				t.Fatalf("accepted, want %s", tt.want)
			case ref.Code != tt.want:
				t.Fatalf("refused with %v, want %s", ref, tt.want)
			case !strings.HasSuffix(ref.Detail, "."):
				t.Errorf("detail %q is not a sentence", ref.Detail)
			}
		})
	}
}

func r2(r *client.SubmitRequest) *client.SubmitRequest { return r }

func TestMaxSegmentsOnTemplates(t *testing.T) {
	c := rulesConfig()
	c.Policy.Templates["reminder"] = config.Template{Text: "Hello {{.name}}, see you on {{.when}}.", Params: map[string]config.Param{"name": {}, "when": {}}}
	ap := c.Policy.Purposes["appointment_reminder"]
	ap.MaxSegments = 1
	c.Policy.Purposes["appointment_reminder"] = ap
	p := New(c)
	req := client.SubmitRequest{To: "+33612345678", Purpose: "appointment_reminder", Template: "reminder",
		Params: map[string]string{"name": strings.Repeat("n", 150), "when": "Monday"}}
	if _, ref := p.Prepare(req, "local", time.Now()); ref == nil || ref.Code != CodeTooManySegments {
		t.Fatalf("got %v, want %s", ref, CodeTooManySegments)
	}
	req.Params["name"] = "Ann"
	if _, ref := p.Prepare(req, "local", time.Now()); ref != nil {
		t.Fatalf("short reminder refused: %v", ref)
	}
}

func TestAdmission(t *testing.T) {
	c := rulesConfig()
	c.Policy.Limits = config.Limits{PerRecipient: config.Rate{Count: 5, Window: time.Hour}, Global: config.Rate{Count: 100, Window: time.Minute}}
	otp := c.Policy.Purposes["otp"]
	otp.RequiresConsent = true
	otp.Limits = config.PurposeLimits{PerRecipient: config.Rate{Count: 3, Window: time.Hour}, PerClient: config.Rate{Count: 50, Window: time.Hour}}
	c.Policy.Purposes["otp"] = otp
	p := New(c)
	adm := p.Admission(&store.Message{Purpose: "otp"})
	if !adm.CheckOptOut || !adm.RequireConsent {
		t.Errorf("admission %+v: want opt-out and consent checked", adm)
	}
	var scopes []string
	for _, l := range adm.Limits {
		scopes = append(scopes, string(l.Scope))
	}
	if got, want := strings.Join(scopes, ","), "recipient_purpose,recipient,client_purpose,global"; got != want {
		t.Errorf("limits %s, want %s", got, want)
	}
	if adm := p.Admission(&store.Message{Purpose: "otp", OptOutExempt: true}); adm.CheckOptOut {
		t.Error("an exempt confirmation is checked against the opt-out list")
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+33612345678", "06 12 34 56 78", "36111", "+33899123456", "+", "+0", "++33", "\x00"} {
		f.Add(s)
	}
	rules := NumberRules{DefaultRegion: "FR", AllowedCountries: []string{"FR", "BE"}}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := rules.Normalize(raw)
		if err != nil {
			var ne *NumberError
			if !errors.As(err, &ne) || ne.Code == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if !IsE164(n.E164) {
			t.Fatalf("%q normalised to %q, not E.164", raw, n.E164)
		}
		// Normalising is idempotent.
		again, err := rules.Normalize(n.E164)
		if err != nil || again != n {
			t.Fatalf("%q → %+v, then %+v %v", raw, n, again, err)
		}
	})
}

func FuzzMatchKeyword(f *testing.F) {
	for _, s := range []string{"STOP", "opt out", "start", "un-stop", "stopp", "ＳＴＯＰ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		kw := MatchKeyword(text)
		// Adding spaces and changing case never changes the meaning.
		if got := MatchKeyword("  " + strings.ToLower(text) + " "); len(text) <= maxKeywordLen-3 && got != kw {
			t.Fatalf("%q is %v but padded lower case is %v", text, kw, got)
		}
		// A keyword is never matched with a letter or digit added.
		if kw != NoKeyword && MatchKeyword(text+"x") != NoKeyword && MatchKeyword(text+"x") != kw {
			t.Fatalf("%q+x changed keyword", text)
		}
	})
}

func FuzzTemplateParams(f *testing.F) {
	f.Add("123456")
	f.Add("12ab")
	f.Add("")
	f.Add("1\n2")
	p := New(rulesConfig())
	f.Fuzz(func(t *testing.T, code string) {
		m, ref := p.Prepare(client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": code}}, "shop", time.Now())
		if ref != nil {
			if ref.Code == "" || ref.Detail == "" {
				t.Fatalf("refusal without code or detail: %+v", ref)
			}
			return
		}
		// Accepted values match the pattern and render into one part.
		for _, r := range code {
			if r < '0' || r > '9' {
				t.Fatalf("accepted code %q with %q", code, r)
			}
		}
		if m.Parts != 1 {
			t.Fatalf("accepted %d parts with max_segments 1", m.Parts)
		}
	})
}
