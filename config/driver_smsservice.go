package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"
)

// SMSServiceOptions configures a driver of type smsservice: an Android SMS
// app reached over HTTP. The adb type reuses it for its forward mode.
type SMSServiceOptions struct {
	// Dialect is the app's API: smsgate or simple.
	Dialect string `yaml:"dialect"`
	// URL is the app's base URL, such as http://192.168.1.50:8080.
	URL string `yaml:"url"`
	// Username and PasswordFile give basic authentication.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// TokenFile holds a bearer token, instead of a password.
	TokenFile string `yaml:"token_file"`
	// TLS applies to https URLs.
	TLS SMSServiceTLS `yaml:"tls"`
	// SIMSlot is the 1-based SIM the app sends with; 0 lets the phone choose.
	SIMSlot int `yaml:"sim_slot"`
	// Webhook is how the phone reports states and inbound SMS (smsgate).
	Webhook SMSServiceWebhook `yaml:"webhook"`
	// PollInterval is how often messages without a final state are looked up.
	PollInterval Duration `yaml:"poll_interval"`
	// RequestTimeout bounds one HTTP request to the app.
	RequestTimeout Duration `yaml:"request_timeout"`
	// DeliveryReports asks the network for delivery reports (smsgate).
	DeliveryReports *bool `yaml:"delivery_reports"`
	// Simple describes the request of the simple dialect.
	Simple SMSServiceSimple `yaml:"simple"`
}

// SMSServiceTLS configures how the app's certificate is checked.
type SMSServiceTLS struct {
	// CAFile is a PEM file of the authorities that may sign the app's
	// certificate.
	CAFile string `yaml:"ca_file"`
	// PinSHA256 is the hex SHA-256 of the app's certificate (DER); when
	// set, only that certificate is accepted.
	PinSHA256 string `yaml:"pin_sha256"`
}

// SMSServiceWebhook configures the receiver of the app's webhooks.
type SMSServiceWebhook struct {
	// Listen is the host:port the receiver binds, on a loopback, private
	// or link-local address.
	Listen string `yaml:"listen"`
	// URL is the address the phone calls; default http://<listen>/.
	URL string `yaml:"url"`
	// SecretFile holds the app's webhook signing key.
	SecretFile string `yaml:"secret_file"`
}

// SMSServiceSimple is the request the simple dialect sends.
type SMSServiceSimple struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	// Headers are added to the request; values may use {{.Token}}.
	Headers map[string]string `yaml:"headers"`
	// Body is a text/template of a JSON document; {{.To}}, {{.Text}},
	// {{.ID}}, {{.ExpiresAt}}, {{.TTL}}, {{.Parts}} and {{.SIM}} are
	// JSON-escaped (write them inside quotes).
	Body string `yaml:"body"`
	// SuccessStatus lists the HTTP statuses that mean "accepted".
	SuccessStatus []int `yaml:"success_status"`
	// IDPointer is the JSON pointer of the device's id in the reply.
	IDPointer string `yaml:"id_pointer"`
}

// Defaults of the smsservice options.
const (
	DefaultSMSServiceDialect        = "smsgate"
	DefaultSMSServiceUsername       = "sms"
	DefaultSMSServicePollInterval   = 30 * time.Second
	DefaultSMSServiceRequestTimeout = 15 * time.Second
	DefaultSimpleMethod             = "POST"
	DefaultSimplePath               = "/send"
	DefaultSimpleBody               = `{"to":"{{.To}}","message":"{{.Text}}","messageID":"{{.ID}}"}`
	DefaultSimpleIDPointer          = "/messageId"
)

// DefaultPhonePacing is the pacing of a phone driver whose pacing.max is
// unset: Android lets one app send 30 SMS in any 30 minutes before it asks
// the user to confirm or refuses.
var DefaultPhonePacing = Rate{Count: 30, Window: 30 * time.Minute}

// Accepted values of smsservice keys.
var (
	smsserviceDialects = []string{"smsgate", "simple"}
	simpleMethods      = []string{"POST", "PUT"}
)

func smsserviceDefaults(d *Driver) {
	if d.SMSService == nil {
		d.SMSService = &SMSServiceOptions{}
	}
	smsserviceOptionDefaults(d.SMSService)
	if d.Pacing.Max.IsZero() {
		d.Pacing.Max = DefaultPhonePacing
	}
}

// smsserviceOptionDefaults fills the unset options of o. The adb type calls
// it for its smsservice block.
func smsserviceOptionDefaults(o *SMSServiceOptions) {
	setString(&o.Dialect, DefaultSMSServiceDialect)
	if o.PasswordFile != "" {
		setString(&o.Username, DefaultSMSServiceUsername)
	}
	setDuration(&o.PollInterval, DefaultSMSServicePollInterval)
	setDuration(&o.RequestTimeout, DefaultSMSServiceRequestTimeout)
	if o.DeliveryReports == nil {
		on := o.Dialect == "smsgate"
		o.DeliveryReports = &on
	}
	if o.Dialect == "simple" {
		s := &o.Simple
		s.Method = strings.ToUpper(s.Method)
		setString(&s.Method, DefaultSimpleMethod)
		setString(&s.Path, DefaultSimplePath)
		setString(&s.Body, DefaultSimpleBody)
		if len(s.SuccessStatus) == 0 {
			s.SuccessStatus = []int{200, 201, 202}
		}
		setString(&s.IDPointer, DefaultSimpleIDPointer)
	}
}

func smsserviceValidate(v *validator, path string, d *Driver) {
	if d.SMSService == nil {
		v.add(path+".smsservice", "must be set")
		return
	}
	validateSMSServiceOptions(v, path+".smsservice", d.SMSService, true)
}

// validateSMSServiceOptions reports the problems of o, found at path. The
// URL is required only when needURL is set (adb derives it).
func validateSMSServiceOptions(v *validator, path string, o *SMSServiceOptions, needURL bool) {
	if !slices.Contains(smsserviceDialects, o.Dialect) {
		v.add(path+".dialect", "unknown dialect %q (use %s)", o.Dialect, strings.Join(smsserviceDialects, " or "))
	}
	https := false
	switch {
	case o.URL == "" && needURL:
		v.add(path+".url", "must be set, e.g. http://192.168.1.50:8080")
	case o.URL != "":
		u, err := url.Parse(o.URL)
		switch {
		case err != nil:
			v.add(path+".url", "invalid URL %q: %v", o.URL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			v.add(path+".url", "must start with http:// or https://, got %q", o.URL)
		case u.Host == "":
			v.add(path+".url", "has no host: %q", o.URL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			v.add(path+".url", "must not carry a query, a fragment or credentials (use password_file or token_file)")
		}
		https = err == nil && u.Scheme == "https"
	}
	if o.PasswordFile != "" && o.TokenFile != "" {
		v.add(path+".token_file", "use password_file or token_file, not both")
	}
	if o.Username != "" && o.PasswordFile == "" {
		v.add(path+".username", "needs password_file")
	}
	if (o.TLS.CAFile != "" || o.TLS.PinSHA256 != "") && !https && o.URL != "" {
		v.add(path+".tls", "applies to https URLs only")
	}
	if p := o.TLS.PinSHA256; p != "" {
		if b, err := hex.DecodeString(strings.ReplaceAll(p, ":", "")); err != nil || len(b) != 32 {
			v.add(path+".tls.pin_sha256", "must be the 64 hex digits of a SHA-256 (colons allowed)")
		}
	}
	if o.SIMSlot < 0 || o.SIMSlot > 3 {
		v.add(path+".sim_slot", "must be 1, 2 or 3, or 0 to let the phone choose; got %d", o.SIMSlot)
	}
	positive(v, path+".poll_interval", o.PollInterval)
	positive(v, path+".request_timeout", o.RequestTimeout)
	validateSMSServiceWebhook(v, path+".webhook", o)
	validateSMSServiceSimple(v, path+".simple", o)
}

func validateSMSServiceWebhook(v *validator, path string, o *SMSServiceOptions) {
	w := o.Webhook
	if w == (SMSServiceWebhook{}) {
		return
	}
	if o.Dialect != "smsgate" {
		v.add(path, "webhooks need the smsgate dialect")
		return
	}
	if w.Listen == "" {
		v.add(path+".listen", "must be set to receive webhooks, e.g. 192.168.1.10:8788")
	} else if msg := lanListenProblem(w.Listen); msg != "" {
		v.add(path+".listen", "%s", msg)
	}
	if w.SecretFile == "" {
		v.add(path+".secret_file", "must be set: unsigned webhooks are refused")
	}
	if w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(path+".url", "must be an http:// or https:// URL, got %q", w.URL)
		}
	}
}

// lanListenProblem says what is wrong with a listen address that must stay
// on this machine or the LAN, or returns "".
func lanListenProblem(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Sprintf("invalid address %q (use ip:port)", listen)
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
		return fmt.Sprintf("host %q must be an IP address", host)
	}
	if p, err := netip.ParseAddr(host); err == nil {
		if !p.IsLoopback() && !p.IsPrivate() && !p.IsLinkLocalUnicast() {
			return fmt.Sprintf("%s is not a loopback, private or link-local address", host)
		}
	}
	if port == "" {
		return fmt.Sprintf("address %q has no port", listen)
	}
	return ""
}

func validateSMSServiceSimple(v *validator, path string, o *SMSServiceOptions) {
	s := o.Simple
	if o.Dialect != "simple" {
		if s.Method != "" || s.Path != "" || len(s.Headers) > 0 || s.Body != "" || len(s.SuccessStatus) > 0 || s.IDPointer != "" {
			v.add(path, "applies to the simple dialect only")
		}
		return
	}
	if o.DeliveryReports != nil && *o.DeliveryReports {
		v.add(strings.TrimSuffix(path, ".simple")+".delivery_reports", "the simple dialect cannot receive delivery reports")
	}
	if !slices.Contains(simpleMethods, s.Method) {
		v.add(path+".method", "unknown method %q (use %s)", s.Method, strings.Join(simpleMethods, " or "))
	}
	if !strings.HasPrefix(s.Path, "/") {
		v.add(path+".path", "must start with /, got %q", s.Path)
	}
	if _, err := template.New("body").Option("missingkey=error").Parse(s.Body); err != nil {
		v.add(path+".body", "invalid template: %v", err)
	}
	for name, val := range s.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			v.add(path+".headers", "invalid header name %q", name)
		}
		if _, err := template.New("header").Parse(val); err != nil {
			v.add(path+".headers."+name, "invalid template: %v", err)
		}
	}
	for i, c := range s.SuccessStatus {
		if c < 200 || c > 299 {
			v.add(fmt.Sprintf("%s.success_status[%d]", path, i), "must be a 2xx status, got %d", c)
		}
	}
	if s.IDPointer != "" && !strings.HasPrefix(s.IDPointer, "/") {
		v.add(path+".id_pointer", "a JSON pointer starts with /, got %q", s.IDPointer)
	}
}

func smsservicePaths(d *Driver) []*string {
	if d.SMSService == nil {
		return nil
	}
	return smsserviceOptionPaths(d.SMSService)
}

// smsserviceOptionPaths returns the file paths of o that Resolve makes
// absolute. The adb type calls it for its smsservice block.
func smsserviceOptionPaths(o *SMSServiceOptions) []*string {
	return []*string{&o.PasswordFile, &o.TokenFile, &o.TLS.CAFile, &o.Webhook.SecretFile}
}
