// Package config holds smsgw's configuration: the types, strict YAML decoding
// with line numbers, defaults, validation without I/O, and the embedded
// default used when no file is given.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	API     API      `yaml:"api"`
	Clients []Client `yaml:"clients"`
	Store   Store    `yaml:"store"`
	Policy  Policy   `yaml:"policy"`
	Queue   Queue    `yaml:"queue"`
	Drivers []Driver `yaml:"drivers"`
	Routes  []Route  `yaml:"routes"`
	Health  Health   `yaml:"health"`
	Log     Log      `yaml:"log"`

	// src remembers where each key was read so that Validate can name
	// lines; it is nil for a Config built in code.
	src *source
}

// API configures the local HTTP API.
type API struct {
	// Socket is the Unix socket path; relative paths are under the working directory.
	Socket string `yaml:"socket"`
	// SocketMode is the octal permission of the socket file, e.g. "0660".
	SocketMode string `yaml:"socket_mode"`
	// MaxBodyBytes caps a request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadTimeout and WriteTimeout bound one request.
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdempotencyTTL is how long Idempotency-Key values are remembered.
	IdempotencyTTL Duration `yaml:"idempotency_ttl"`
	// SocketGroup, when set, is the group (name or number) that owns the
	// socket file and its directory, so its members can connect.
	SocketGroup string `yaml:"socket_group"`
	// SocketClient, when set, names the client that every socket peer
	// not mapped by clients[].unix_uids or unix_gids is; the socket's file
	// permissions decide who can connect at all. Empty: unmapped peers
	// are refused (peer_unknown) once any client is configured.
	SocketClient string `yaml:"socket_client"`
	// LAN is the optional listener on private LAN addresses.
	LAN LAN `yaml:"lan"`
}

// LAN configures the API listener on private network addresses. It needs
// at least one client with a token_sha256.
type LAN struct {
	// Listen lists "ip:port" addresses; each must be loopback, RFC 1918,
	// RFC 4193 or link-local. 0.0.0.0 and :: are accepted only when every
	// interface address of the machine is private. Empty: no LAN listener.
	Listen []string `yaml:"listen"`
	// Allow lists the CIDR networks peers must come from; each must lie
	// within the private ranges. Empty: any private peer.
	Allow []string `yaml:"allow"`
	// TLS, when both files are set, serves HTTPS.
	TLS TLS `yaml:"tls"`
	// MaxConns caps the open connections of each listen address.
	MaxConns int `yaml:"max_conns"`
}

// TLS names a PEM certificate and key.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Client is an app allowed to submit messages.
type Client struct {
	Name string `yaml:"name"`
	// UnixUIDs are the users whose connections on the socket are this
	// client; UnixGIDs the primary groups, checked after every uid.
	UnixUIDs []int `yaml:"unix_uids"`
	UnixGIDs []int `yaml:"unix_gids"`
	// TokenSHA256 is the hex SHA-256 of the bearer token this client
	// presents on the LAN listener (from smsgw token create).
	TokenSHA256 string `yaml:"token_sha256"`
	// Purposes lists what the client may send; a purpose not listed is
	// refused with purpose_not_allowed_for_client.
	Purposes []string `yaml:"purposes"`
	// Admin lets the client see and act on every client's messages and
	// read the journal; other clients see only their own messages.
	Admin bool `yaml:"admin"`
	// Webhook, when its url is set, receives this client's events.
	Webhook Webhook `yaml:"webhook"`
}

// Webhook is a client's event receiver on the LAN.
type Webhook struct {
	// URL is an http or https URL whose host resolves to a private address.
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 signing secret.
	SecretFile string `yaml:"secret_file"`
	// MaxAttempts is how many times one event is tried before it is
	// dead-lettered.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff spaces the attempts: exponential from Initial to Max.
	Backoff Backoff `yaml:"backoff"`
	// Timeout bounds one delivery.
	Timeout Duration `yaml:"timeout"`
}

// Store configures the Badger database.
type Store struct {
	Dir string `yaml:"dir"`
	// Retention is how long terminal messages are kept before they expire.
	Retention Duration `yaml:"retention"`
	// GCInterval is how often value-log garbage collection runs.
	GCInterval Duration `yaml:"gc_interval"`
	// EncryptionKeyFile, when set, names a file holding a 16, 24 or 32
	// byte AES key (raw, or hex-encoded) with which Badger encrypts its
	// files at rest.
	EncryptionKeyFile string `yaml:"encryption_key_file"`
}

// Policy says which messages are acceptable.
type Policy struct {
	// DefaultRegion is the ISO 3166 region (such as FR) used to read
	// numbers written without a country code. Empty: numbers must start
	// with + and the country code.
	DefaultRegion string `yaml:"default_region"`
	// AllowedCountries lists the ISO 3166 regions a message may go to;
	// empty allows every region.
	AllowedCountries []string `yaml:"allowed_countries"`
	// RefuseFixedLine refuses numbers known to be fixed lines, which
	// cannot receive SMS in most countries.
	RefuseFixedLine bool `yaml:"refuse_fixed_line"`
	// Limits are the rate limits over every purpose.
	Limits Limits `yaml:"limits"`
	// OptOut configures the replies to opt-out and opt-in keywords.
	OptOut OptOut `yaml:"opt_out"`

	Purposes  map[string]Purpose  `yaml:"purposes"`
	Templates map[string]Template `yaml:"templates"`
}

// Limits are sliding-window rate limits; an unset rate is no limit. They
// count accepted messages and survive restarts.
type Limits struct {
	// PerRecipient caps the messages to one number.
	PerRecipient Rate `yaml:"per_recipient"`
	// PerClient caps the messages of one client.
	PerClient Rate `yaml:"per_client"`
	// Global caps every message together.
	Global Rate `yaml:"global"`
}

// PurposeLimits are the rate limits of one purpose.
type PurposeLimits struct {
	// PerRecipient caps the messages of this purpose to one number.
	PerRecipient Rate `yaml:"per_recipient"`
	// PerClient caps the messages of this purpose from one client.
	PerClient Rate `yaml:"per_client"`
}

// OptOut configures the confirmations sent when someone texts a keyword.
type OptOut struct {
	// StopReply names a template without params sent once to a number
	// that just opted out. Empty: no reply.
	StopReply string `yaml:"stop_reply"`
	// StartReply names a template without params sent to a number that
	// just opted back in. Empty: no reply.
	StartReply string `yaml:"start_reply"`
}

// Purpose is a reason to send a message, such as a one-time code.
type Purpose struct {
	// TTL is how long a message stays worth sending.
	TTL       Duration `yaml:"ttl"`
	Templates []string `yaml:"templates"`
	// AllowFreeText lets clients send their own text instead of a
	// template. Default: false.
	AllowFreeText bool `yaml:"allow_free_text"`
	// MaxSegments caps the SMS parts of one message; 0 means no cap.
	MaxSegments int `yaml:"max_segments"`
	// RequiresConsent refuses numbers without a consent record for the
	// purpose.
	RequiresConsent bool `yaml:"requires_consent"`
	// Limits are this purpose's own rate limits.
	Limits PurposeLimits `yaml:"limits"`
}

// Template is a message text with declared parameters.
type Template struct {
	// Text is a Go text/template, e.g. "Your code is {{.code}}."
	Text   string           `yaml:"text"`
	Params map[string]Param `yaml:"params"`
}

// Param declares one template parameter.
type Param struct {
	// Secret params (one-time codes) are never logged and are erased once
	// the message is terminal.
	Secret bool `yaml:"secret"`
	// Pattern, when set, is a regular expression the whole value must
	// match, such as ^[0-9]{4,8}$.
	Pattern string `yaml:"pattern"`
}

// Queue configures retries and uncertain outcomes.
type Queue struct {
	MaxAttempts int     `yaml:"max_attempts"`
	Backoff     Backoff `yaml:"backoff"`
	// OnUncertain is "hold" (move to unknown for review) or "retry".
	OnUncertain string `yaml:"on_uncertain"`
	// SendTimeout bounds one driver Send.
	SendTimeout Duration `yaml:"send_timeout"`
}

// Backoff is exponential with full jitter between Initial and Max.
type Backoff struct {
	Initial Duration `yaml:"initial"`
	Max     Duration `yaml:"max"`
}

// Driver is one configured device. Type selects the driver; the remaining
// keys belong to one type each.
type Driver struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Pacing      Pacing `yaml:"pacing"`
	Concurrency int    `yaml:"concurrency"`

	// type: sim. The keys below are accepted only on drivers of that type
	// (see driverTypes); omitempty keeps them out of a marshalled copy of
	// another type's driver.

	// Latency is how long a simulated send takes.
	Latency Duration `yaml:"latency,omitempty"`
	// Failures is the simulated failure mix.
	Failures Failures `yaml:"failures,omitempty"`
	// DeliveryReports makes the simulated phone report delivery.
	DeliveryReports *bool `yaml:"delivery_reports,omitempty"`
	// DeliveryDelay is how long after a send the delivery report comes.
	DeliveryDelay Duration `yaml:"delivery_delay,omitempty"`
	// Outbox is a file the simulated phone appends what it sends to;
	// relative paths are under the working directory.
	Outbox string `yaml:"outbox,omitempty"`

	// Options of the other types live under a key named after the type
	// (see driver_<type>.go): one typed block per driver, so a technician
	// swapping drivers replaces one block.

	// SMSService configures type smsservice, and the phone app that type
	// adb reaches in forward mode.
	SMSService *SMSServiceOptions `yaml:"smsservice,omitempty"`
	// ADB configures type adb.
	ADB *ADBOptions `yaml:"adb,omitempty"`
	// Modem configures type modem.
	Modem *ModemOptions `yaml:"modem,omitempty"`
}

// Failures is the sim driver's failure mix: the probability of each outcome
// class per send, each between 0 and 1 and together at most 1.
type Failures struct {
	Transient float64 `yaml:"transient"`
	Permanent float64 `yaml:"permanent"`
	Uncertain float64 `yaml:"uncertain"`
	// Undelivered is the probability that a sent message gets a failed
	// delivery report.
	Undelivered float64 `yaml:"undelivered"`
}

// Pacing limits how fast one driver sends.
type Pacing struct {
	// Every is the minimum gap between two sends.
	Every Duration `yaml:"every"`
	// Max is a sliding-window cap such as "30/30m".
	Max Rate `yaml:"max"`
}

// Route sends messages of some purposes through drivers in order.
type Route struct {
	Purposes []string `yaml:"purposes"`
	Drivers  []string `yaml:"drivers"`
}

// Health configures device probing.
type Health struct {
	Interval Duration `yaml:"interval"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is auto (JSON under systemd, text on a terminal), json or text.
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as "5m" or "1h30m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use forms like 30s, 5m, 12h)", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Rate is a count per window, written "30/30m".
type Rate struct {
	Count  int
	Window time.Duration
}

// IsZero reports whether the rate is unset.
func (r Rate) IsZero() bool { return r.Count == 0 && r.Window == 0 }

// UnmarshalText parses "N/duration". The empty string, which MarshalText
// writes for an unset rate, leaves the rate unset.
func (r *Rate) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = Rate{}
		return nil
	}
	n, w, ok := strings.Cut(string(b), "/")
	if !ok {
		return fmt.Errorf("invalid rate %q (use forms like 30/30m)", b)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return fmt.Errorf("invalid rate %q: count must be a positive integer", b)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || window <= 0 {
		return fmt.Errorf("invalid rate %q: window must be a positive duration", b)
	}
	r.Count, r.Window = count, window
	return nil
}

// MarshalText writes the rate as "N/duration".
func (r Rate) MarshalText() ([]byte, error) {
	if r.IsZero() {
		return []byte(""), nil
	}
	return []byte(fmt.Sprintf("%d/%s", r.Count, r.Window)), nil
}
