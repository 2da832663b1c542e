package config

import (
	"strings"
	"testing"
	"time"
)

func TestSMSServiceDefaults(t *testing.T) {
	c, err := Load("../testdata/smsservice/phone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	phone, proto := c.Drivers[0], c.Drivers[1]
	o := phone.SMSService
	if o.Dialect != "smsgate" || o.Username != "sms" || o.PollInterval.Duration != 30*time.Second ||
		o.RequestTimeout.Duration != 15*time.Second || o.DeliveryReports == nil || !*o.DeliveryReports {
		t.Errorf("smsgate defaults = %+v", o)
	}
	if phone.Pacing.Max != (Rate{Count: 30, Window: 30 * time.Minute}) {
		t.Errorf("phone pacing.max = %+v, want Android's 30/30m", phone.Pacing.Max)
	}
	if proto.Pacing.Max != (Rate{Count: 10, Window: time.Hour}) {
		t.Errorf("a pacing.max that is set must stay: %+v", proto.Pacing.Max)
	}
	s := proto.SMSService.Simple
	if s.Method != "POST" || s.Path != "/send" || s.IDPointer != "/messageId" || len(s.SuccessStatus) != 3 || s.Body == "" {
		t.Errorf("simple defaults = %+v", s)
	}
	if *proto.SMSService.DeliveryReports {
		t.Error("simple dialect defaults to delivery reports")
	}
}

func TestSMSServiceValidate(t *testing.T) {
	tests := []struct {
		name string
		opts SMSServiceOptions
		want string // "" means valid
	}{
		{"minimal", SMSServiceOptions{URL: "http://192.168.1.50:8080"}, ""},
		{"no url", SMSServiceOptions{}, ".smsservice.url: must be set"},
		{"ftp url", SMSServiceOptions{URL: "ftp://phone"}, "must start with http://"},
		{"credentials in url", SMSServiceOptions{URL: "http://u:p@phone:8080"}, "must not carry"},
		{"unknown dialect", SMSServiceOptions{Dialect: "sms", URL: "http://p:1"}, "unknown dialect"},
		{"password and token", SMSServiceOptions{URL: "http://p:1", PasswordFile: "a", TokenFile: "b"}, "not both"},
		{"tls on http", SMSServiceOptions{URL: "http://p:1", TLS: SMSServiceTLS{CAFile: "ca.pem"}}, "https URLs only"},
		{"bad pin", SMSServiceOptions{URL: "https://p:1", TLS: SMSServiceTLS{PinSHA256: "abc"}}, "64 hex digits"},
		{"good pin", SMSServiceOptions{URL: "https://p:1", TLS: SMSServiceTLS{PinSHA256: strings.Repeat("ab:", 31) + "ab"}}, ""},
		{"sim slot", SMSServiceOptions{URL: "http://p:1", SIMSlot: 4}, "sim_slot"},
		{"public webhook listen", SMSServiceOptions{URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "8.8.8.8:80", SecretFile: "k"}}, "not a loopback, private or link-local"},
		{"any-address webhook listen", SMSServiceOptions{URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "0.0.0.0:80", SecretFile: "k"}}, "not a loopback"},
		{"webhook name", SMSServiceOptions{URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "phone.lan:80", SecretFile: "k"}}, "must be an IP address"},
		{"webhook without secret", SMSServiceOptions{URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "127.0.0.1:8788"}}, "unsigned webhooks"},
		{"link-local webhook", SMSServiceOptions{URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "[fe80::1]:8788", SecretFile: "k"}}, ""},
		{"webhook on simple", SMSServiceOptions{Dialect: "simple", URL: "http://p:1", Webhook: SMSServiceWebhook{Listen: "127.0.0.1:1", SecretFile: "k"}}, "smsgate dialect"},
		{"simple keys on smsgate", SMSServiceOptions{URL: "http://p:1", Simple: SMSServiceSimple{Path: "/x"}}, "simple dialect only"},
		{"simple bad template", SMSServiceOptions{Dialect: "simple", URL: "http://p:1", Simple: SMSServiceSimple{Body: "{{.To"}}, "invalid template"},
		{"simple status", SMSServiceOptions{Dialect: "simple", URL: "http://p:1", Simple: SMSServiceSimple{SuccessStatus: []int{404}}}, "2xx"},
		{"simple reports", SMSServiceOptions{Dialect: "simple", URL: "http://p:1", DeliveryReports: new(true)}, "cannot receive delivery reports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Driver{Name: "phone", Type: "smsservice", SMSService: &tt.opts}
			smsserviceDefaults(d)
			v := &validator{}
			smsserviceValidate(v, "drivers[0]", d)
			got := strings.Join(v.problems, "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("unexpected problems:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problems %q do not contain %q", got, tt.want)
			}
		})
	}
}

func TestSMSServicePaths(t *testing.T) {
	d := &Driver{Type: "smsservice", SMSService: &SMSServiceOptions{PasswordFile: "p", TokenFile: "t",
		TLS: SMSServiceTLS{CAFile: "ca"}, Webhook: SMSServiceWebhook{SecretFile: "s"}}}
	var got []string
	for _, p := range smsservicePaths(d) {
		got = append(got, *p)
	}
	if strings.Join(got, ",") != "p,t,ca,s" {
		t.Errorf("paths = %v", got)
	}
}
