package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"smsgw/daemon/client"
	"smsgw/daemon/logging"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
)

// maxIdemKeyLen bounds an Idempotency-Key.
const maxIdemKeyLen = 255

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	if p := checkJSONContentType(r.Header.Get("Content-Type")); p != nil {
		writeProblem(w, p)
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		writeProblem(w, tooLarge(s.cfg.MaxBodyBytes))
		return
	}
	key, hasKey, p := idempotencyKey(r.Header)
	if p != nil {
		writeProblem(w, p)
		return
	}
	req, p := decodeSubmit(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if p != nil {
		writeProblem(w, p)
		return
	}

	clientName := s.clientName(r)
	var fp string
	if hasKey {
		fp = fingerprint(req)
		release, ok := s.claim(clientName, key)
		if !ok {
			writeProblem(w, problemf(http.StatusConflict, codeIdemKeyInFlight,
				"A request with this Idempotency-Key is still being handled; wait for its answer, then retry to get it replayed."))
			return
		}
		defer release()
	}

	now := s.now()
	m, refusal := s.policy.Prepare(req, clientName, now)
	if refusal != nil {
		writeProblem(w, refusalProblem(refusal))
		return
	}

	// The first answer is stored for replays for a day, longer than the
	// message's personal data lives, so it carries none: the recipient is
	// masked (the caller knows it) and secret params are hidden.
	body, err := json.Marshal(s.view(m, nil, true))
	if err != nil {
		s.internal(w, r, fmt.Errorf("encode message %s: %w", m.ID, err))
		return
	}
	body = append(body, '\n')

	var idem *store.Idempotency
	if hasKey {
		idem = &store.Idempotency{
			Client: clientName, Key: key, Fingerprint: fp,
			Response: body, MessageID: m.ID, CreatedAt: now,
		}
	}
	if err := s.backend.Submit(r.Context(), m, idem, s.policy.Admission(m)); err != nil {
		var (
			dup  *store.DuplicateKeyError
			rate *store.RateLimitError
		)
		switch {
		case hasKey && errors.As(err, &dup):
			s.replay(w, r, dup)
		case errors.Is(err, store.ErrOptedOut):
			writeProblem(w, problemf(http.StatusForbidden, policy.CodeRecipientOptedOut,
				"Do not send to this number: its owner opted out (for instance by texting STOP); it takes a START from them, or an operator, to send again.").
				withErrors(client.FieldError{Field: "to", Code: policy.CodeRecipientOptedOut, Detail: "The recipient opted out."}))
		case errors.Is(err, store.ErrConsentMissing):
			writeProblem(w, problemf(http.StatusForbidden, policy.CodeConsentMissing,
				"Record the recipient's consent to purpose %s (POST /v1/consents) before sending, or use a purpose that does not require it.", m.Purpose).
				withErrors(client.FieldError{Field: "to", Code: policy.CodeConsentMissing, Detail: "No consent recorded for this purpose."}))
		case errors.As(err, &rate):
			writeProblem(w, rateLimited(rate))
		default:
			s.internal(w, r, fmt.Errorf("submit message %s: %w", m.ID, err))
		}
		return
	}

	s.log.DebugContext(r.Context(), "message accepted", "id", m.ID, "client", clientName,
		"to", logging.MaskPhone(m.To), "purpose", m.Purpose, "template", m.Template, "parts", m.Parts)
	w.Header().Set("Location", "/v1/messages/"+m.ID)
	writeBody(w, http.StatusAccepted, body)
}

// replay answers a request whose Idempotency-Key was already used: with the
// first answer, byte for byte, if the payload is the same; with a refusal
// if not.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, dup *store.DuplicateKeyError) {
	existing := dup.Existing
	if !dup.SamePayload {
		writeProblem(w, problemf(http.StatusUnprocessableEntity, codeIdemKeyReused,
			"This Idempotency-Key was already used for a different request; use a new key for a new message."))
		return
	}
	body := existing.Response
	if len(body) == 0 {
		m, _, err := s.backend.Message(r.Context(), existing.MessageID)
		if err != nil {
			s.backendError(w, r, existing.MessageID, err)
			return
		}
		if body, err = json.Marshal(s.view(m, nil, true)); err != nil {
			s.internal(w, r, err)
			return
		}
		body = append(body, '\n')
	}
	w.Header().Set("Idempotent-Replayed", "true")
	if existing.MessageID != "" {
		w.Header().Set("Location", "/v1/messages/"+existing.MessageID)
	}
	writeBody(w, http.StatusOK, body)
}

// rateLimited answers a rate limit: 429 with Retry-After in whole seconds
// and the limit that was hit.
func rateLimited(e *store.RateLimitError) *problem {
	secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
	code := policy.CodeRateLimitedPrefix + string(e.Limit.Scope)
	p := problemf(http.StatusTooManyRequests, code,
		"Wait %d s before sending again: the %s limit of %d messages per %s is reached.",
		secs, strings.ReplaceAll(string(e.Limit.Scope), "_", " and "), e.Limit.Count, e.Limit.Window)
	p.retryAfter = strconv.FormatInt(secs, 10)
	p.Limit = &client.LimitInfo{Scope: string(e.Limit.Scope), Count: e.Limit.Count, Window: e.Limit.Window.String()}
	return p
}

// claim marks client's key as being handled. ok is false if it already is;
// otherwise release must be called once the request is answered.
func (s *Server) claim(clientName, key string) (release func(), ok bool) {
	k := inFlightKey{clientName, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.inFlight[k]; busy {
		return nil, false
	}
	s.inFlight[k] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.inFlight, k)
		s.mu.Unlock()
	}, true
}

func checkJSONContentType(ct string) *problem {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return problemf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"Send the body as JSON with the header Content-Type: application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return problemf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"Send the JSON body in UTF-8 (charset=utf-8) or without a charset parameter.")
	}
	return nil
}

func tooLarge(limit int64) *problem {
	return problemf(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
		"Send a body of at most %d bytes.", limit)
}

// idempotencyKey reads the optional Idempotency-Key header: 1 to 255
// printable ASCII characters, given once.
func idempotencyKey(h http.Header) (key string, ok bool, p *problem) {
	vals := h.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", false, nil
	}
	invalid := problemf(http.StatusBadRequest, codeIdemKeyInvalid,
		"Give one Idempotency-Key of 1 to %d printable ASCII characters, such as a UUID.", maxIdemKeyLen)
	if len(vals) > 1 {
		return "", false, invalid
	}
	key = vals[0]
	if len(key) == 0 || len(key) > maxIdemKeyLen {
		return "", false, invalid
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", false, invalid
		}
	}
	return key, true, nil
}

// decodeSubmit reads one JSON object from body into a SubmitRequest. Every
// failure is a 4xx problem: 413 if body is an http.MaxBytesReader whose limit
// was hit, 400 otherwise.
func decodeSubmit(body io.Reader) (client.SubmitRequest, *problem) {
	var req client.SubmitRequest
	if p := decodeObject(body, &req, "Send a JSON object such as {\"to\": \"+33612345678\", \"purpose\": \"otp\", \"params\": {\"code\": \"123456\"}}."); p != nil {
		return client.SubmitRequest{}, p
	}
	return req, nil
}

// decodeObject reads exactly one JSON object from body into v, refusing
// unknown fields; notObject is the advice when the body is another JSON
// value.
func decodeObject(body io.Reader, v any, notObject string) *problem {
	dec := json.NewDecoder(body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return decodeProblem(err)
	}
	// Anything after the object, whitespace aside, is refused; reading to
	// the end also enforces the body limit on trailing bytes.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			if p := decodeProblem(err); p.Status == http.StatusRequestEntityTooLarge {
				return p
			}
		}
		return problemf(http.StatusBadRequest, codeMalformedJSON,
			"Send exactly one JSON object, with nothing after it.")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return problemf(http.StatusBadRequest, codeMalformedJSON, "%s", notObject)
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return decodeProblem(err)
	}
	return nil
}

// decodeProblem classifies a JSON decoding error.
func decodeProblem(err error) *problem {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return tooLarge(tooBig.Limit)
	case errors.Is(err, io.EOF):
		return problemf(http.StatusBadRequest, codeMalformedJSON, "The body is empty; send one JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problemf(http.StatusBadRequest, codeMalformedJSON, "The JSON body ends too early; send one complete JSON object.")
	case errors.As(err, &syntax):
		return problemf(http.StatusBadRequest, codeMalformedJSON,
			"Fix the JSON syntax at byte %d: %s.", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		want := "a string"
		if field == "params" {
			want = "an object of strings"
		}
		return problemf(http.StatusBadRequest, codeFieldTypeInvalid,
			"Give %s as %s, not %s.", field, want, typeErr.Value).
			withErrors(client.FieldError{Field: field, Code: codeFieldTypeInvalid,
				Detail: fmt.Sprintf("Give %s as %s.", field, want)})
	}
	// encoding/json reports unknown fields only through the message text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return problemf(http.StatusBadRequest, codeUnknownField,
			"Remove the field %q: a submission has only to, purpose, template, params, text and ttl.", name).
			withErrors(client.FieldError{Field: name, Code: codeUnknownField, Detail: "Remove this field."})
	}
	return problemf(http.StatusBadRequest, codeMalformedJSON, "Send one valid JSON object.")
}

// refusalProblem turns a policy refusal into a 422 listing every problem.
func refusalProblem(ref *policy.Refusal) *problem {
	detail := ref.Detail
	if n := len(ref.Errors); n > 1 {
		detail = fmt.Sprintf("Fix the %d problems listed in errors; the first: %s", n, detail)
	}
	return problemf(http.StatusUnprocessableEntity, ref.Code, "%s", detail).withErrors(ref.Errors...)
}

// fingerprint identifies a submission's payload: SHA-256 over each field
// length-prefixed, in a fixed order, params sorted by name. Two requests
// with the same fingerprint ask for the same message.
func fingerprint(req client.SubmitRequest) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put("smsgw-submit-v1")
	put(req.To)
	put(req.Purpose)
	put(req.Template)
	put(req.TTL)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(req.Params)))])
	for _, k := range slices.Sorted(maps.Keys(req.Params)) {
		put(k)
		put(req.Params[k])
	}
	if req.Text != "" {
		// After the counted params, so that requests without text keep
		// the fingerprint they always had.
		put("text")
		put(req.Text)
	}
	return hex.EncodeToString(h.Sum(nil))
}
