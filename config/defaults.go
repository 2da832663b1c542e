package config

import (
	_ "embed"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// defaultYAML is the configuration used when no file is given: the
// simulated phone, with the socket and data under the working directory.
//
//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration, parsed, with the
// defaults applied and validated.
func Default() (*Config, error) {
	c, err := Parse(defaultYAML, "default.yaml")
	if err != nil {
		return nil, fmt.Errorf("embedded default configuration: %w", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("embedded default configuration: %w", err)
	}
	return c, nil
}

// Default values of the keys ApplyDefaults fills in.
const (
	DefaultSocket         = "smsgw.sock"
	DefaultSocketMode     = "0660"
	DefaultMaxBodyBytes   = 64 << 10
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdempotencyTTL = 24 * time.Hour
	DefaultWebhookTries   = 10
	DefaultWebhookInitial = 5 * time.Second
	DefaultWebhookMax     = 10 * time.Minute
	DefaultWebhookTimeout = 10 * time.Second
	DefaultStoreDir       = "smsgw-data"
	DefaultRetention      = 720 * time.Hour
	DefaultGCInterval     = 5 * time.Minute
	DefaultMaxAttempts    = 5
	DefaultBackoffInitial = 10 * time.Second
	DefaultBackoffMax     = 10 * time.Minute
	DefaultOnUncertain    = "hold"
	DefaultSendTimeout    = 60 * time.Second
	DefaultHealthInterval = 30 * time.Second
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "auto"
)

// ApplyDefaults fills every unset (zero) value with its default. With no
// routes, it adds one route sending every purpose through every driver in
// the order they are configured. Calling it twice changes nothing.
func (c *Config) ApplyDefaults() {
	setString(&c.API.Socket, DefaultSocket)
	setString(&c.API.SocketMode, DefaultSocketMode)
	if c.API.MaxBodyBytes == 0 {
		c.API.MaxBodyBytes = DefaultMaxBodyBytes
	}
	setDuration(&c.API.ReadTimeout, DefaultReadTimeout)
	setDuration(&c.API.WriteTimeout, DefaultWriteTimeout)
	setDuration(&c.API.IdempotencyTTL, DefaultIdempotencyTTL)
	for i := range c.Clients {
		wh := &c.Clients[i].Webhook
		if wh.URL == "" {
			continue
		}
		if wh.MaxAttempts == 0 {
			wh.MaxAttempts = DefaultWebhookTries
		}
		setDuration(&wh.Backoff.Initial, DefaultWebhookInitial)
		setDuration(&wh.Backoff.Max, DefaultWebhookMax)
		setDuration(&wh.Timeout, DefaultWebhookTimeout)
	}

	setString(&c.Store.Dir, DefaultStoreDir)
	setDuration(&c.Store.Retention, DefaultRetention)
	setDuration(&c.Store.GCInterval, DefaultGCInterval)

	if c.Queue.MaxAttempts == 0 {
		c.Queue.MaxAttempts = DefaultMaxAttempts
	}
	setDuration(&c.Queue.Backoff.Initial, DefaultBackoffInitial)
	setDuration(&c.Queue.Backoff.Max, DefaultBackoffMax)
	setString(&c.Queue.OnUncertain, DefaultOnUncertain)
	setDuration(&c.Queue.SendTimeout, DefaultSendTimeout)

	for i := range c.Drivers {
		d := &c.Drivers[i]
		if d.Concurrency == 0 {
			d.Concurrency = defaultConcurrency
			if t, ok := lookupDriverType(driverTypes, d.Type); ok && t.concurrency > 0 {
				d.Concurrency = t.concurrency
			}
		}
		if t, ok := lookupDriverType(driverTypes, d.Type); ok && t.defaults != nil {
			t.defaults(d)
		}
	}
	if len(c.Routes) == 0 && len(c.Drivers) > 0 && len(c.Policy.Purposes) > 0 {
		r := Route{Purposes: slices.Sorted(maps.Keys(c.Policy.Purposes))}
		for _, d := range c.Drivers {
			r.Drivers = append(r.Drivers, d.Name)
		}
		c.Routes = []Route{r}
	}

	setDuration(&c.Health.Interval, DefaultHealthInterval)
	setString(&c.Log.Level, DefaultLogLevel)
	setString(&c.Log.Format, DefaultLogFormat)
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}

// Resolve makes the relative file paths of the configuration (api.socket,
// store.dir and the driver paths, such as the sim outbox) absolute by
// joining them to base, normally the working directory. Absolute and empty
// paths are left alone.
func (c *Config) Resolve(base string) {
	paths := []*string{&c.API.Socket, &c.Store.Dir, &c.API.LAN.TLS.CertFile, &c.API.LAN.TLS.KeyFile}
	for i := range c.Clients {
		paths = append(paths, &c.Clients[i].Webhook.SecretFile)
	}
	for i := range c.Drivers {
		d := &c.Drivers[i]
		if t, ok := lookupDriverType(driverTypes, d.Type); ok && t.paths != nil {
			paths = append(paths, t.paths(d)...)
		}
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}
