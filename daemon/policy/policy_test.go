package policy

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

func testConfig() *config.Config {
	return &config.Config{
		Policy: config.Policy{
			Purposes: map[string]config.Purpose{
				"otp":                  {TTL: config.Duration{Duration: 5 * time.Minute}, Templates: []string{"otp_code"}},
				"appointment_reminder": {TTL: config.Duration{Duration: 12 * time.Hour}, Templates: []string{"reminder", "reminder_short"}},
				"broken":               {TTL: config.Duration{Duration: time.Hour}, Templates: []string{"broken"}},
				"sliced":               {TTL: config.Duration{Duration: time.Hour}, Templates: []string{"sliced"}},
			},
			Templates: map[string]config.Template{
				"otp_code": {
					Text:   "Your code is {{.code}}. It expires in 5 minutes.",
					Params: map[string]config.Param{"code": {Secret: true}},
				},
				"reminder": {
					Text:   "Hello {{.name}}, see you on {{.when}}.",
					Params: map[string]config.Param{"name": {}, "when": {}},
				},
				"reminder_short": {
					Text:   "See you on {{.when}}.",
					Params: map[string]config.Param{"when": {}},
				},
				"broken": {Text: "Hello {{.name", Params: map[string]config.Param{"name": {}}},
				"sliced": {Text: "Code {{slice .code 0 4}}", Params: map[string]config.Param{"code": {}}},
			},
		},
		Queue: config.Queue{MaxAttempts: 5},
	}
}

func TestPrepareAccepts(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	p := New(testConfig())

	tests := []struct {
		name      string
		req       client.SubmitRequest
		template  string
		ttl       time.Duration
		secret    []string
		parts     int
		encodingS string
	}{
		{
			name:      "template implied by the only one of the purpose",
			req:       client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": "123456"}},
			template:  "otp_code",
			ttl:       5 * time.Minute,
			secret:    []string{"code"},
			parts:     1,
			encodingS: "gsm7",
		},
		{
			name:      "explicit template and shorter ttl",
			req:       client.SubmitRequest{To: "+4915112345678", Purpose: "otp", Template: "otp_code", Params: map[string]string{"code": "9"}, TTL: "90s"},
			template:  "otp_code",
			ttl:       90 * time.Second,
			secret:    []string{"code"},
			parts:     1,
			encodingS: "gsm7",
		},
		{
			name:      "ttl equal to the purpose's",
			req:       client.SubmitRequest{To: "+33612345678", Purpose: "appointment_reminder", Template: "reminder_short", Params: map[string]string{"when": "Monday"}, TTL: "12h"},
			template:  "reminder_short",
			ttl:       12 * time.Hour,
			parts:     1,
			encodingS: "gsm7",
		},
		{
			name:      "non-GSM param switches to UCS-2",
			req:       client.SubmitRequest{To: "+33612345678", Purpose: "appointment_reminder", Template: "reminder", Params: map[string]string{"name": "Zoë 😀", "when": "lundi"}},
			template:  "reminder",
			ttl:       12 * time.Hour,
			parts:     1,
			encodingS: "ucs2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ref := p.Prepare(tt.req, "shop", now)
			if ref != nil {
				t.Fatalf("Prepare refused: %v (%+v)", ref, ref.Errors)
			}
			if _, err := ulid.ParseStrict(m.ID); err != nil {
				t.Errorf("ID %q is not a ULID: %v", m.ID, err)
			}
			want := store.Message{
				ID: m.ID, Client: "shop", To: tt.req.To, Purpose: tt.req.Purpose, Template: tt.template,
				State: store.Queued, MaxAttempts: 5, Parts: tt.parts, Encoding: tt.encodingS,
				CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(tt.ttl),
			}
			got := *m
			got.Params, got.SecretParams = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("message\n got %+v\nwant %+v", got, want)
			}
			if !maps.Equal(m.Params, tt.req.Params) {
				t.Errorf("params = %v, want %v", m.Params, tt.req.Params)
			}
			if !slices.Equal(m.SecretParams, tt.secret) {
				t.Errorf("secret params = %v, want %v", m.SecretParams, tt.secret)
			}
		})
	}
}

func TestPrepareCopiesParams(t *testing.T) {
	params := map[string]string{"code": "123456"}
	m, ref := New(testConfig()).Prepare(client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: params}, "shop", time.Now())
	if ref != nil {
		t.Fatal(ref)
	}
	params["code"] = "changed"
	if m.Params["code"] != "123456" {
		t.Errorf("message params follow the request map: %q", m.Params["code"])
	}
}

func TestPrepareUniqueIDs(t *testing.T) {
	p := New(testConfig())
	req := client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": "1"}}
	seen := map[string]bool{}
	for range 100 {
		m, ref := p.Prepare(req, "shop", time.Now())
		if ref != nil {
			t.Fatal(ref)
		}
		if seen[m.ID] {
			t.Fatalf("duplicate id %s", m.ID)
		}
		seen[m.ID] = true
	}
}

func TestPrepareRefuses(t *testing.T) {
	otp := func(mod func(*client.SubmitRequest)) client.SubmitRequest {
		r := client.SubmitRequest{To: "+33612345678", Purpose: "otp", Template: "otp_code", Params: map[string]string{"code": "123456"}}
		mod(&r)
		return r
	}
	tests := []struct {
		name string
		req  client.SubmitRequest
		// want lists field:code for every expected problem, in order.
		want []string
	}{
		{"empty recipient", otp(func(r *client.SubmitRequest) { r.To = "" }), []string{"to:recipient_invalid"}},
		{"national number", otp(func(r *client.SubmitRequest) { r.To = "0612345678" }), []string{"to:recipient_invalid"}},
		{"leading zero country code", otp(func(r *client.SubmitRequest) { r.To = "+0612345678" }), []string{"to:recipient_invalid"}},
		{"too short", otp(func(r *client.SubmitRequest) { r.To = "+1234567" }), []string{"to:recipient_invalid"}},
		{"too long", otp(func(r *client.SubmitRequest) { r.To = "+1234567890123456" }), []string{"to:recipient_invalid"}},
		{"incomplete with spaces", otp(func(r *client.SubmitRequest) { r.To = "+33 6 12 34" }), []string{"to:recipient_invalid"}},
		{"trailing newline", otp(func(r *client.SubmitRequest) { r.To = "+33612345678\n" }), []string{"to:recipient_invalid"}},
		{"unknown purpose", otp(func(r *client.SubmitRequest) { r.Purpose = "marketing" }), []string{"purpose:purpose_unknown"}},
		{"empty purpose", otp(func(r *client.SubmitRequest) { r.Purpose = "" }), []string{"purpose:purpose_unknown"}},
		{"unknown template", otp(func(r *client.SubmitRequest) { r.Template = "promo" }), []string{"template:template_unknown"}},
		{"template of another purpose", otp(func(r *client.SubmitRequest) {
			r.Template = "reminder_short"
			r.Params = map[string]string{"when": "Monday"}
		}), []string{"template:template_not_allowed"}},
		{"template omitted with several allowed", client.SubmitRequest{To: "+33612345678", Purpose: "appointment_reminder", Params: map[string]string{"when": "Monday"}},
			[]string{"template:template_unknown"}},
		{"missing param", otp(func(r *client.SubmitRequest) { r.Params = nil }), []string{"params.code:template_param_missing"}},
		{"unexpected param", otp(func(r *client.SubmitRequest) { r.Params["extra"] = "x" }), []string{"params.extra:template_param_unexpected"}},
		{"empty param", otp(func(r *client.SubmitRequest) { r.Params["code"] = "" }), []string{"params.code:template_param_invalid"}},
		{"param too long", otp(func(r *client.SubmitRequest) { r.Params["code"] = strings.Repeat("1", 201) }), []string{"params.code:template_param_invalid"}},
		{"param invalid UTF-8", otp(func(r *client.SubmitRequest) { r.Params["code"] = "12\xff34" }), []string{"params.code:template_param_invalid"}},
		{"param with newline", otp(func(r *client.SubmitRequest) { r.Params["code"] = "12\n34" }), []string{"params.code:template_param_invalid"}},
		{"param with NUL", otp(func(r *client.SubmitRequest) { r.Params["code"] = "12\x0034" }), []string{"params.code:template_param_invalid"}},
		{"param with C1 control", otp(func(r *client.SubmitRequest) { r.Params["code"] = "12\u008534" }), []string{"params.code:template_param_invalid"}},
		{"ttl not a duration", otp(func(r *client.SubmitRequest) { r.TTL = "five minutes" }), []string{"ttl:ttl_invalid"}},
		{"ttl zero", otp(func(r *client.SubmitRequest) { r.TTL = "0s" }), []string{"ttl:ttl_invalid"}},
		{"ttl negative", otp(func(r *client.SubmitRequest) { r.TTL = "-1m" }), []string{"ttl:ttl_invalid"}},
		{"ttl above the purpose's", otp(func(r *client.SubmitRequest) { r.TTL = "5m1s" }), []string{"ttl:ttl_invalid"}},
		{"template does not parse", client.SubmitRequest{To: "+33612345678", Purpose: "broken", Params: map[string]string{"name": "x"}},
			[]string{"template:template_render_failed"}},
		{"template fails on the value", client.SubmitRequest{To: "+33612345678", Purpose: "sliced", Params: map[string]string{"code": "12"}},
			[]string{"template:template_render_failed"}},
		{"every problem at once", client.SubmitRequest{
			To: "12", Purpose: "otp", Template: "reminder",
			Params: map[string]string{"name": "", "zzz": "1"}, TTL: "1h",
		}, []string{
			"to:recipient_invalid",
			"template:template_not_allowed",
			"params.when:template_param_missing",
			"params.name:template_param_invalid",
			"params.zzz:template_param_unexpected",
			"ttl:ttl_invalid",
		}},
		{"unknown purpose still checks the template", client.SubmitRequest{
			To: "+33612345678", Purpose: "nope", Template: "otp_code", Params: map[string]string{"code": "1", "x": "y"}, TTL: "1h",
		}, []string{
			"purpose:purpose_unknown",
			"params.x:template_param_unexpected",
		}},
	}
	p := New(testConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ref := p.Prepare(tt.req, "shop", time.Now())
			if ref == nil {
				t.Fatalf("Prepare accepted %+v", m)
			}
			var got []string
			for _, e := range ref.Errors {
				got = append(got, e.Field+":"+e.Code)
				if e.Detail == "" || !strings.HasSuffix(e.Detail, ".") {
					t.Errorf("%s: detail %q is not a sentence", e.Code, e.Detail)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors\n got %v\nwant %v", got, tt.want)
			}
			first := strings.SplitN(tt.want[0], ":", 2)
			if ref.Field != first[0] || ref.Code != first[1] || ref.Detail != ref.Errors[0].Detail {
				t.Errorf("refusal %s/%s/%q does not lead with the first error %v", ref.Field, ref.Code, ref.Detail, ref.Errors[0])
			}
		})
	}
}

func TestRefusalDoesNotEchoValues(t *testing.T) {
	secret := "S3CR3T\n"
	_, ref := New(testConfig()).Prepare(client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": secret}}, "shop", time.Now())
	if ref == nil {
		t.Fatal("accepted a param with a newline")
	}
	if strings.Contains(ref.Error(), "S3CR3T") || strings.Contains(ref.Errors[0].Detail, "S3CR3T") {
		t.Errorf("refusal repeats the param value: %v", ref)
	}
}

func TestIsE164(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+33612345678", true},
		{"+12345678", true},
		{"+123456789012345", true},
		{"+1234567", false},
		{"+1234567890123456", false},
		{"33612345678", false},
		{"+3361234567a", false},
		{"+٣٣٦١٢٣٤٥٦٧٨", false},
	}
	for _, tt := range tests {
		if got := IsE164(tt.in); got != tt.want {
			t.Errorf("IsE164(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
