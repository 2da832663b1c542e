// Package api serves smsgw's HTTP/JSON API (v1) on the Unix socket: message
// submission with idempotency keys, message views, the dead-letter queue,
// health and stats. It knows nothing about storage: it talks to a Backend.
//
// Every error is an RFC 9457 application/problem+json document whose type is
// https://smsgw.local/problems/<code> and whose code is stable. Status codes
// are chosen consistently:
//
//   - 400: the request's shape is wrong (JSON that does not parse, an unknown
//     field, a value of the wrong JSON type, a bad header or query parameter);
//   - 413 and 415: the body is too large or not JSON;
//   - 422: a well-formed request the policy refuses, listing every problem in
//     errors, or an Idempotency-Key reused for another payload;
//   - 404, 405, 409: unknown message or path, wrong method, a message not in a
//     state that allows the operation or a key still in flight;
//   - 500: only our own failures (a backend error, a panic), never input.
//
// Message views never show secret template params: while the message still
// holds them their value reads "[secret]", and once they are erased they are
// absent. Lists mask the recipient (+336******78); a single message shows it
// in full to its client.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
)

// Backend is what the API needs from the store and the queue.
type Backend interface {
	// Submit stores m after the checks of adm; it returns
	// *store.DuplicateKeyError if the key exists, store.ErrOptedOut,
	// store.ErrConsentMissing or *store.RateLimitError.
	Submit(ctx context.Context, m *store.Message, idem *store.Idempotency, adm store.Admission) error
	Message(ctx context.Context, id string) (*store.Message, []store.Event, error)
	List(ctx context.Context, f store.Filter) ([]*store.Message, string, error) // next cursor
	Cancel(ctx context.Context, id string) (*store.Message, error)              // *store.StateError unless queued
	Requeue(ctx context.Context, id string) (*store.Message, error)             // store.ErrExpired, store.ErrErased, *store.StateError
	Stats(ctx context.Context) (store.Stats, error)
	Health(ctx context.Context) client.Health
}

// Lists is what the API needs for the opt-out list, consents and the
// journal. Numbers are in E.164 form.
type Lists interface {
	SetOptOut(ctx context.Context, e164 string, out bool, source, keyword string) (changed bool, err error)
	OptOuts(ctx context.Context) ([]store.OptOut, error)
	SetConsent(ctx context.Context, e164, purpose string, give bool, source string) (changed bool, err error)
	Consents(ctx context.Context, e164 string) ([]store.Consent, error)
	Journal(ctx context.Context, since time.Time, limit int) ([]store.JournalEntry, error)
}

// Events is what the API needs for the event stream and the webhook
// deliveries view.
type Events interface {
	// Feed returns entries after a number, never beyond what is settled.
	Feed(ctx context.Context, after uint64, limit int) ([]store.FeedEntry, error)
	// FeedChanged is closed when new entries may be readable.
	FeedChanged() <-chan struct{}
	// FeedHead is the number a stream without Last-Event-ID starts after.
	FeedHead() uint64
	Deliveries(ctx context.Context, client, state string, limit int) ([]store.Delivery, error)
}

// Options configures a Server. Backend and Policy are required.
type Options struct {
	Backend Backend
	// Lists serves /v1/optouts, /v1/consents and /v1/journal; nil answers
	// them 404.
	Lists  Lists
	Policy *policy.Policy
	Config config.API
	// Clients are the configured clients: socket peers and LAN tokens map
	// to them. None: every socket peer is the admin client "local".
	Clients []config.Client
	// Events serves /v1/events and /v1/webhooks/deliveries; nil answers
	// them 404.
	Events Events
	// Log receives the access log (at debug) and internal errors; nil
	// discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults used when the configuration leaves a value at zero.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	readHeaderTimeout   = 5 * time.Second
	maxHeaderBytes      = 16 << 10
	shutdownGrace       = 10 * time.Second
	idleTimeout         = 60 * time.Second
)

// localClient is the client name of every request on the Unix socket when
// no client is configured; it is an admin.
const localClient = "local"

// Server is the HTTP API. Create it with New.
type Server struct {
	backend Backend
	lists   Lists
	events  Events
	auth    *authenticator
	policy  *policy.Policy
	cfg     config.API
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler

	mu       sync.Mutex
	inFlight map[inFlightKey]struct{}
}

type inFlightKey struct{ client, key string }

// New returns a Server. It panics if Backend or Policy is missing, which is a
// wiring mistake rather than a runtime condition.
func New(o Options) *Server {
	if o.Backend == nil || o.Policy == nil {
		panic("api.New: Backend and Policy are required")
	}
	s := &Server{
		backend:  o.Backend,
		lists:    o.Lists,
		events:   o.Events,
		auth:     newAuthenticator(o.Clients, o.Config),
		policy:   o.Policy,
		cfg:      o.Config,
		log:      o.Log,
		now:      o.Now,
		inFlight: make(map[inFlightKey]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.MaxBodyBytes <= 0 {
		s.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.cfg.ReadTimeout.Duration <= 0 {
		s.cfg.ReadTimeout.Duration = DefaultReadTimeout
	}
	if s.cfg.WriteTimeout.Duration <= 0 {
		s.cfg.WriteTimeout.Duration = DefaultWriteTimeout
	}
	s.handler = s.accessLog(s.recoverPanics(s.authenticate(s.routes())))
	return s
}

// Handler returns the API's handler, with panic recovery and access logging.
func (s *Server) Handler() http.Handler { return s.handler }

// route is one path and the handlers of its methods.
type route struct {
	path    string
	methods []string
	handle  []http.HandlerFunc
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range []route{
		{"/v1/messages", []string{http.MethodPost, http.MethodGet}, []http.HandlerFunc{s.submit, s.listMessages}},
		{"/v1/messages/{id}", []string{http.MethodGet}, []http.HandlerFunc{s.getMessage}},
		{"/v1/messages/{id}/cancel", []string{http.MethodPost}, []http.HandlerFunc{s.cancel}},
		{"/v1/dlq", []string{http.MethodGet}, []http.HandlerFunc{s.listDead}},
		{"/v1/dlq/{id}/requeue", []string{http.MethodPost}, []http.HandlerFunc{s.requeue}},
		{"/v1/health", []string{http.MethodGet}, []http.HandlerFunc{s.health}},
		{"/v1/stats", []string{http.MethodGet}, []http.HandlerFunc{s.stats}},
		{"/v1/optouts", []string{http.MethodGet, http.MethodPost, http.MethodDelete}, []http.HandlerFunc{s.listOptOuts, s.addOptOut, adminOnly(s.removeOptOut)}},
		{"/v1/consents", []string{http.MethodGet, http.MethodPost, http.MethodDelete}, []http.HandlerFunc{s.listConsents, s.addConsent, s.removeConsent}},
		{"/v1/journal", []string{http.MethodGet}, []http.HandlerFunc{adminOnly(s.journal)}},
		{"/v1/events", []string{http.MethodGet}, []http.HandlerFunc{s.streamEvents}},
		{"/v1/webhooks/deliveries", []string{http.MethodGet}, []http.HandlerFunc{s.listDeliveries}},
		{"/openapi.json", []string{http.MethodGet}, []http.HandlerFunc{serveOpenAPI}},
	} {
		allow := make([]string, 0, len(r.methods)+1)
		for i, m := range r.methods {
			mux.HandleFunc(m+" "+r.path, r.handle[i])
			allow = append(allow, m)
			if m == http.MethodGet {
				// The mux answers HEAD with the GET handler.
				allow = append(allow, http.MethodHead)
			}
		}
		// The method-less pattern catches every other method; the
		// mux's own 405 would not be problem+json.
		mux.HandleFunc(r.path, methodNotAllowed(allow))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problemf(http.StatusNotFound, codeNotFound, "No API endpoint has this path; the API lives under /v1/."))
	})
	return mux
}
