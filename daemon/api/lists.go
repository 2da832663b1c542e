package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"smsgw/daemon/client"
)

// Problem codes of the opt-out, consent and journal endpoints.
const (
	codeListsUnavailable = "lists_unavailable"
)

// listsOr404 answers 404 when the server has no Lists.
func (s *Server) listsOr404(w http.ResponseWriter) bool {
	if s.lists == nil {
		writeProblem(w, problemf(http.StatusNotFound, codeListsUnavailable, "This daemon keeps no opt-out list, consents or journal."))
		return false
	}
	return true
}

// recipient normalises a number given to the opt-out and consent
// endpoints. Country and line-type rules do not apply: anyone may opt out.
func (s *Server) recipient(field, raw string) (string, *problem) {
	rules := s.policy.Numbers()
	rules.AllowedCountries, rules.RefuseFixedLine = nil, false
	n, err := rules.Normalize(raw)
	if err != nil {
		return "", problemf(http.StatusBadRequest, "recipient_invalid",
			"Give %s in E.164 form, such as +33612345678.", field).
			withErrors(client.FieldError{Field: field, Code: "recipient_invalid", Detail: err.Error()})
	}
	return n.E164, nil
}

// source names who made a change through the API.
func (s *Server) source(r *http.Request, given string) string {
	src := "api:" + s.clientName(r)
	if given != "" {
		src += " (" + given + ")"
	}
	return src
}

func (s *Server) listOptOuts(w http.ResponseWriter, r *http.Request) {
	if !s.listsOr404(w) {
		return
	}
	list, err := s.lists.OptOuts(r.Context())
	if err != nil {
		s.internal(w, r, fmt.Errorf("list opt-outs: %w", err))
		return
	}
	out := client.OptOutList{OptOuts: make([]client.OptOut, 0, len(list))}
	for _, o := range list {
		out.OptOuts = append(out.OptOuts, client.OptOut(o))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) addOptOut(w http.ResponseWriter, r *http.Request) { s.setOptOut(w, r, true) }

func (s *Server) removeOptOut(w http.ResponseWriter, r *http.Request) { s.setOptOut(w, r, false) }

// setOptOut reads the recipient from a JSON body on POST, or from the query
// (?recipient=) on DELETE.
func (s *Server) setOptOut(w http.ResponseWriter, r *http.Request, out bool) {
	if !s.listsOr404(w) {
		return
	}
	var req client.RecipientRequest
	if out {
		if p := s.decodeBody(w, r, &req); p != nil {
			writeProblem(w, p)
			return
		}
	} else {
		q, p := onlyQuery(r.URL.Query(), "recipient")
		if p != nil {
			writeProblem(w, p)
			return
		}
		req.Recipient = q["recipient"]
	}
	e164, p := s.recipient("recipient", req.Recipient)
	if p != nil {
		writeProblem(w, p)
		return
	}
	changed, err := s.lists.SetOptOut(r.Context(), e164, out, s.source(r, ""), "")
	if err != nil {
		s.internal(w, r, fmt.Errorf("set opt-out: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, client.Change{Changed: changed})
}

func (s *Server) listConsents(w http.ResponseWriter, r *http.Request) {
	if !s.listsOr404(w) {
		return
	}
	q, p := onlyQuery(r.URL.Query(), "recipient")
	if p != nil {
		writeProblem(w, p)
		return
	}
	var e164 string
	if raw := q["recipient"]; raw != "" {
		if e164, p = s.recipient("recipient", raw); p != nil {
			writeProblem(w, p)
			return
		}
	}
	list, err := s.lists.Consents(r.Context(), e164)
	if err != nil {
		s.internal(w, r, fmt.Errorf("list consents: %w", err))
		return
	}
	out := client.ConsentList{Consents: make([]client.Consent, 0, len(list))}
	for _, c := range list {
		out.Consents = append(out.Consents, client.Consent(c))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) addConsent(w http.ResponseWriter, r *http.Request) { s.setConsent(w, r, true) }

func (s *Server) removeConsent(w http.ResponseWriter, r *http.Request) { s.setConsent(w, r, false) }

func (s *Server) setConsent(w http.ResponseWriter, r *http.Request, give bool) {
	if !s.listsOr404(w) {
		return
	}
	var req client.ConsentRequest
	if give {
		if p := s.decodeBody(w, r, &req); p != nil {
			writeProblem(w, p)
			return
		}
	} else {
		q, p := onlyQuery(r.URL.Query(), "recipient", "purpose")
		if p != nil {
			writeProblem(w, p)
			return
		}
		req.Recipient, req.Purpose = q["recipient"], q["purpose"]
	}
	e164, p := s.recipient("recipient", req.Recipient)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !s.policy.KnownPurpose(req.Purpose) {
		writeProblem(w, problemf(http.StatusUnprocessableEntity, "purpose_unknown",
			"Give a configured purpose; %q is not one.", req.Purpose))
		return
	}
	changed, err := s.lists.SetConsent(r.Context(), e164, req.Purpose, give, s.source(r, req.Source))
	if err != nil {
		s.internal(w, r, fmt.Errorf("set consent: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, client.Change{Changed: changed})
}

func (s *Server) journal(w http.ResponseWriter, r *http.Request) {
	if !s.listsOr404(w) {
		return
	}
	q, p := onlyQuery(r.URL.Query(), "since", "limit")
	if p != nil {
		writeProblem(w, p)
		return
	}
	var since time.Time
	if v := q["since"]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeProblem(w, problemf(http.StatusBadRequest, codeQueryInvalid, "Give since as an RFC 3339 time such as 2025-03-01T10:00:00Z."))
			return
		}
		since = t
	}
	limit := defaultLimit
	if v := q["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			writeProblem(w, problemf(http.StatusBadRequest, codeQueryInvalid, "Give limit as a whole number from 1 to %d.", maxLimit))
			return
		}
		limit = n
	}
	entries, err := s.lists.Journal(r.Context(), since, limit)
	if err != nil {
		s.internal(w, r, fmt.Errorf("journal: %w", err))
		return
	}
	out := client.Journal{Entries: make([]client.JournalEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, client.JournalEntry(e))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// onlyQuery reads query parameters given at most once each, and refuses
// any other.
func onlyQuery(q url.Values, names ...string) (map[string]string, *problem) {
	out := make(map[string]string, len(names))
	for name, vals := range q {
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known || len(vals) > 1 {
			return nil, problemf(http.StatusBadRequest, codeQueryInvalid, "Give only the query parameters %v, each at most once.", names)
		}
		out[name] = vals[0]
	}
	return out, nil
}

// decodeBody reads one JSON object into v, with unknown fields refused.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *problem {
	if p := checkJSONContentType(r.Header.Get("Content-Type")); p != nil {
		return p
	}
	return decodeObject(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), v, `Send a JSON object such as {"recipient": "+33612345678"}.`)
}
