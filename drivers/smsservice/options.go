package smsservice

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"

	"smsgw/config"
)

// Dialect names the API the phone app speaks.
type Dialect string

// Dialects.
const (
	// DialectSMSGate is the local-server API of "SMS Gateway for Android":
	// client-supplied ids, per-recipient states, /health and webhooks.
	DialectSMSGate Dialect = "smsgate"
	// DialectSimple is one configurable JSON request per message, with no
	// way to ask the app about an earlier send.
	DialectSimple Dialect = "simple"
)

// Options configures a Driver. Secrets are held already read; use
// OptionsFromConfig to read them from the files the configuration names.
type Options struct {
	Dialect Dialect
	// BaseURL is the app's base URL, e.g. http://192.168.1.50:8080 or, over
	// an adb forward, http://127.0.0.1:18080; default DefaultBaseURL.
	BaseURL string

	// Username and Password give basic authentication; Token a bearer one.
	Username string
	Password string
	Token    string

	// RootCAs, when set, are the authorities the app's certificate must
	// chain to. PinSHA256, when set, is the SHA-256 of the only certificate
	// accepted (chain and host name are then not checked).
	RootCAs   *x509.CertPool
	PinSHA256 []byte

	// SIMSlot is the 1-based SIM to send with; 0 lets the phone choose.
	SIMSlot int
	// DeliveryReports asks the network for delivery reports (smsgate).
	DeliveryReports bool
	// RequestTimeout bounds one HTTP request; default 15s.
	RequestTimeout time.Duration
	// PollInterval is how often messages handed over without a final
	// state are looked up (smsgate); default 30s.
	PollInterval time.Duration

	Webhook WebhookOptions
	Simple  SimpleOptions

	// DialContext, when set, replaces the network dialer: the adb driver
	// may tunnel to the phone itself.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// WebhookOptions configures the receiver of the app's webhooks (smsgate).
// Listen empty means no webhooks: states are found by polling only.
type WebhookOptions struct {
	// Listen is the host:port the receiver binds ("127.0.0.1:0" in tests).
	Listen string
	// URL is what the phone calls; default http://<bound address>/.
	URL string
	// Secret is the app's webhook signing key. Required with Listen.
	Secret []byte
	// MaxSkew is how far a webhook's timestamp may be from now; default 5m.
	MaxSkew time.Duration
}

// SimpleOptions describes the request of the simple dialect.
type SimpleOptions struct {
	Method        string
	Path          string
	Headers       map[string]string
	Body          string
	SuccessStatus []int
	IDPointer     string
}

// Defaults.
const (
	DefaultRequestTimeout = 15 * time.Second
	DefaultPollInterval   = 30 * time.Second
	DefaultMaxSkew        = 5 * time.Minute
	// DefaultBaseURL is the app's default port on this machine, as an
	// `adb forward tcp:8080 tcp:8080` provides it.
	DefaultBaseURL = "http://127.0.0.1:8080"
)

// OptionsFromConfig turns a configuration block into Options, reading the
// password, token, webhook secret and CA files. Call it after the
// configuration's defaults are applied. Errors never carry secrets.
func OptionsFromConfig(o *config.SMSServiceOptions) (Options, error) {
	if o == nil {
		return Options{}, errors.New("smsservice: no options")
	}
	opts := Options{
		Dialect:        Dialect(o.Dialect),
		BaseURL:        o.URL,
		Username:       o.Username,
		SIMSlot:        o.SIMSlot,
		RequestTimeout: o.RequestTimeout.Duration,
		PollInterval:   o.PollInterval.Duration,
		Webhook:        WebhookOptions{Listen: o.Webhook.Listen, URL: o.Webhook.URL},
		Simple: SimpleOptions{
			Method: o.Simple.Method, Path: o.Simple.Path, Headers: o.Simple.Headers,
			Body: o.Simple.Body, SuccessStatus: o.Simple.SuccessStatus, IDPointer: o.Simple.IDPointer,
		},
	}
	if o.DeliveryReports != nil {
		opts.DeliveryReports = *o.DeliveryReports
	}
	var err error
	if o.PasswordFile != "" {
		if opts.Password, err = readSecret(o.PasswordFile, "password_file"); err != nil {
			return Options{}, err
		}
		if opts.Username == "" {
			opts.Username = config.DefaultSMSServiceUsername
		}
	}
	if o.TokenFile != "" {
		if opts.Token, err = readSecret(o.TokenFile, "token_file"); err != nil {
			return Options{}, err
		}
	}
	if o.Webhook.SecretFile != "" {
		s, err := readSecret(o.Webhook.SecretFile, "webhook.secret_file")
		if err != nil {
			return Options{}, err
		}
		opts.Webhook.Secret = []byte(s)
	}
	if o.TLS.CAFile != "" {
		pem, err := os.ReadFile(o.TLS.CAFile)
		if err != nil {
			return Options{}, fmt.Errorf("smsservice: tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Options{}, fmt.Errorf("smsservice: tls.ca_file %s holds no PEM certificate", o.TLS.CAFile)
		}
		opts.RootCAs = pool
	}
	if o.TLS.PinSHA256 != "" {
		pin, err := ParsePin(o.TLS.PinSHA256)
		if err != nil {
			return Options{}, err
		}
		opts.PinSHA256 = pin
	}
	return opts, nil
}

// ParsePin reads a certificate pin: 64 hex digits, colons allowed.
func ParsePin(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || len(b) != 32 {
		return nil, errors.New("smsservice: tls.pin_sha256 must be the 64 hex digits of a SHA-256")
	}
	return b, nil
}

// readSecret reads a one-line secret file. The error names the key and the
// file, never the content.
func readSecret(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("smsservice: %s: %w", key, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("smsservice: %s %s is empty", key, path)
	}
	return s, nil
}

// withDefaults checks o and fills what is unset.
func (o Options) withDefaults() (Options, error) {
	if o.Dialect == "" {
		o.Dialect = DialectSMSGate
	}
	if o.Dialect != DialectSMSGate && o.Dialect != DialectSimple {
		return o, fmt.Errorf("unknown dialect %q", o.Dialect)
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("invalid base URL %q", o.BaseURL)
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Webhook.MaxSkew <= 0 {
		o.Webhook.MaxSkew = DefaultMaxSkew
	}
	if o.Webhook.Listen != "" {
		if o.Dialect != DialectSMSGate {
			return o, errors.New("webhooks need the smsgate dialect")
		}
		if len(o.Webhook.Secret) == 0 {
			return o, errors.New("webhooks need a signing secret")
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dialect == DialectSimple {
		s := &o.Simple
		if s.Method == "" {
			s.Method = config.DefaultSimpleMethod
		}
		if s.Path == "" {
			s.Path = config.DefaultSimplePath
		}
		if s.Body == "" {
			s.Body = config.DefaultSimpleBody
		}
		if len(s.SuccessStatus) == 0 {
			s.SuccessStatus = []int{200, 201, 202}
		}
		if s.IDPointer == "" {
			s.IDPointer = config.DefaultSimpleIDPointer
		}
		if _, err := template.New("body").Parse(s.Body); err != nil {
			return o, fmt.Errorf("simple body template: %w", err)
		}
	}
	return o, nil
}
