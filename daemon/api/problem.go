package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"smsgw/daemon/client"
)

// ProblemTypeBase prefixes every problem code to form its RFC 9457 type.
const ProblemTypeBase = "https://smsgw.local/problems/"

// Problem codes the API itself answers with; policy refusals add the codes
// of package policy.
const (
	codeMalformedJSON        = "malformed_json"
	codeUnknownField         = "unknown_field"
	codeFieldTypeInvalid     = "field_type_invalid"
	codeBodyTooLarge         = "body_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeIdemKeyInvalid       = "idempotency_key_invalid"
	codeIdemKeyInFlight      = "idempotency_key_in_flight"
	codeIdemKeyReused        = "idempotency_key_reused"
	codeQueryInvalid         = "query_invalid"
	codeMessageNotFound      = "message_not_found"
	codeInvalidState         = "invalid_state"
	codeMessageExpired       = "message_expired"
	codeContentErased        = "content_erased"
	codeMethodNotAllowed     = "method_not_allowed"
	codeNotFound             = "not_found"
	codeInternal             = "internal"
)

// problem is an error answer; it is built by handlers and written once.
type problem struct {
	client.Problem
	// allow fills the Allow header of a 405.
	allow string
	// retryAfter fills the Retry-After header of a 429.
	retryAfter string
	// wwwAuthenticate fills the WWW-Authenticate header of a 401.
	wwwAuthenticate string
}

func problemf(status int, code, format string, args ...any) *problem {
	detail := fmt.Sprintf(format, args...)
	return &problem{Problem: client.Problem{
		Type:   ProblemTypeBase + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}}
}

func (p *problem) withErrors(errs ...client.FieldError) *problem {
	p.Errors = append(p.Errors, errs...)
	return p
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *problem) {
	body, err := json.Marshal(p.Problem)
	if err != nil {
		// Only strings and ints: this cannot fail.
		body = []byte(`{"type":"` + ProblemTypeBase + codeInternal + `","title":"Internal Server Error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.allow != "" {
		h.Set("Allow", p.allow)
	}
	if p.retryAfter != "" {
		h.Set("Retry-After", p.retryAfter)
	}
	if p.wwwAuthenticate != "" {
		h.Set("WWW-Authenticate", p.wwwAuthenticate)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

func methodNotAllowed(allow []string) http.HandlerFunc {
	list := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		p := problemf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Use %s on this path.", list)
		p.allow = list
		writeProblem(w, p)
	}
}

// writeJSON writes v as an application/json body with status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.internal(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	writeBody(w, status, append(body, '\n'))
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// internal logs err and answers 500 without its text, which may say more
// than a client should know.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, problemf(http.StatusInternalServerError, codeInternal,
		"The daemon failed to handle the request; try again later and check the daemon's log."))
}
