// Package policy decides whether a submitted message is acceptable and turns
// it into a message record: the recipient number, the purpose, the template
// and its parameters, the validity, and the segment plan of the rendered
// text. Consent, opt-outs and rate limits will join it; they answer the same
// question, so they belong here rather than in the API.
package policy

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

// Refusal codes. They are stable: clients switch on them. The recipient
// codes are in number.go.
const (
	CodePurposeUnknown          = "purpose_unknown"
	CodePurposeNotAllowed       = "purpose_not_allowed_for_client"
	CodeTemplateUnknown         = "template_unknown"
	CodeTemplateNotAllowed      = "template_not_allowed"
	CodeTemplateParamMissing    = "template_param_missing"
	CodeTemplateParamUnexpected = "template_param_unexpected"
	CodeTemplateParamInvalid    = "template_param_invalid"
	CodeFreeTextNotAllowed      = "free_text_not_allowed"
	CodeTextInvalid             = "text_invalid"
	CodeTooManySegments         = "too_many_segments"
	CodeTTLInvalid              = "ttl_invalid"
	// CodeTemplateRenderFailed means the configured template could not be
	// rendered with the given params, e.g. it does not parse.
	CodeTemplateRenderFailed = "template_render_failed"
)

// Refusal codes of the checks made against the store when the message is
// created (see Admission and package api).
const (
	CodeRecipientOptedOut = "recipient_opted_out"
	CodeConsentMissing    = "consent_missing"
	// CodeRateLimitedPrefix prefixes the scope of the limit hit, as in
	// rate_limited_recipient.
	CodeRateLimitedPrefix = "rate_limited_"
)

// MaxParamBytes caps the length of one template parameter value.
const MaxParamBytes = 200

// MaxTextBytes caps free text: ten GSM parts.
const MaxTextBytes = 1530

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// IsE164 reports whether s looks like a phone number in E.164 form, such
// as +33612345678. It does not say the number exists; Normalize does.
func IsE164(s string) bool { return e164.MatchString(s) }

// Refusal says why a request was refused. Code, Field and Detail describe the
// first problem found; Errors lists every problem, the first included, so a
// client can fix them all at once.
type Refusal struct {
	Code string
	// Detail is one sentence saying what to do.
	Detail string
	// Field names the request field at fault, such as "params.code".
	Field  string
	Errors []client.FieldError
}

func (r *Refusal) Error() string {
	if r.Field != "" {
		return fmt.Sprintf("%s: %s: %s", r.Code, r.Field, r.Detail)
	}
	return fmt.Sprintf("%s: %s", r.Code, r.Detail)
}

func (r *Refusal) add(field, code, detail string) {
	if len(r.Errors) == 0 {
		r.Code, r.Field, r.Detail = code, field, detail
	}
	r.Errors = append(r.Errors, client.FieldError{Field: field, Code: code, Detail: detail})
}

// Policy checks submissions against the configured purposes and templates.
// It is safe for concurrent use; it never changes after New.
type Policy struct {
	cfg     *config.Config
	numbers NumberRules
	// templates holds each configured template parsed once; a template
	// that does not parse maps to its error instead.
	templates map[string]*template.Template
	broken    map[string]error
	// patterns holds the compiled pattern of each template param.
	patterns map[string]map[string]*regexp.Regexp
	// clients maps a configured client to the purposes it may send.
	clients map[string][]string
}

// New returns a policy for cfg. cfg must not change afterwards; a reload
// builds a new Policy.
func New(cfg *config.Config) *Policy {
	p := &Policy{
		cfg: cfg,
		numbers: NumberRules{
			DefaultRegion:    cfg.Policy.DefaultRegion,
			AllowedCountries: cfg.Policy.AllowedCountries,
			RefuseFixedLine:  cfg.Policy.RefuseFixedLine,
		},
		templates: make(map[string]*template.Template, len(cfg.Policy.Templates)),
		broken:    make(map[string]error),
		patterns:  make(map[string]map[string]*regexp.Regexp),
		clients:   make(map[string][]string, len(cfg.Clients)),
	}
	for name, tpl := range cfg.Policy.Templates {
		for param, decl := range tpl.Params {
			if decl.Pattern == "" {
				continue
			}
			// Anchored, so that the whole value must match.
			re, err := regexp.Compile(`^(?:` + decl.Pattern + `)$`)
			if err != nil {
				p.broken[name] = fmt.Errorf("param %s: pattern: %w", param, err)
				continue
			}
			if p.patterns[name] == nil {
				p.patterns[name] = map[string]*regexp.Regexp{}
			}
			p.patterns[name][param] = re
		}
		t, err := parseTemplate(tpl)
		if err != nil {
			p.broken[name] = err
			continue
		}
		p.templates[name] = t
	}
	for _, c := range cfg.Clients {
		p.clients[c.Name] = c.Purposes
	}
	return p
}

// Numbers returns the recipient rules.
func (p *Policy) Numbers() NumberRules { return p.numbers }

// Prepare checks req, submitted by clientName at now, and returns the message
// to store, or a Refusal listing every problem found. The message is queued,
// due now, and expires after the request's ttl or, without one, the
// purpose's. Its recipient is in E.164 form.
func (p *Policy) Prepare(req client.SubmitRequest, clientName string, now time.Time) (*store.Message, *Refusal) {
	ref := &Refusal{}

	num, err := p.numbers.Normalize(req.To)
	var ne *NumberError
	if errors.As(err, &ne) {
		ref.add("to", ne.Code, ne.Detail)
	}

	purpose, purposeOK := p.cfg.Policy.Purposes[req.Purpose]
	switch allowed, configured := p.clients[clientName]; {
	case !purposeOK:
		ref.add("purpose", CodePurposeUnknown,
			fmt.Sprintf("Use one of the configured purposes: %s.", list(slices.Sorted(maps.Keys(p.cfg.Policy.Purposes)))))
	case configured && !slices.Contains(allowed, req.Purpose):
		ref.add("purpose", CodePurposeNotAllowed,
			fmt.Sprintf("Use a purpose client %s may send (%s), or ask the operator to add %s to its purposes.", clientName, list(allowed), req.Purpose))
	}

	var (
		name   string
		tplOK  bool
		isText = req.Text != ""
	)
	switch {
	case isText && req.Template != "":
		ref.add("text", CodeFreeTextNotAllowed, "Send either a template with params or a text, not both.")
	case isText && len(req.Params) > 0:
		ref.add("params", CodeTemplateParamUnexpected, "Remove params: a free text has none.")
	case isText && purposeOK && !purpose.AllowFreeText:
		ref.add("text", CodeFreeTextNotAllowed,
			fmt.Sprintf("Use a template of purpose %s (%s): it does not allow free text.", req.Purpose, list(purpose.Templates)))
	case isText:
		if why := invalidText(req.Text); why != "" {
			ref.add("text", CodeTextInvalid, fmt.Sprintf("Give a text that %s.", why))
		}
	default:
		var tpl config.Template
		name, tpl, tplOK = p.resolveTemplate(req, purpose, purposeOK, ref)
		if tplOK {
			checkParams(tpl, p.patterns[name], req.Params, ref)
		}
	}

	ttl := purpose.TTL.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		switch {
		case err != nil || d <= 0:
			ref.add("ttl", CodeTTLInvalid,
				"Give ttl as a positive Go duration such as 90s or 5m, or leave it out.")
		case purposeOK && d > purpose.TTL.Duration:
			ref.add("ttl", CodeTTLInvalid,
				fmt.Sprintf("Give a ttl of at most %s, the validity of purpose %s, or leave it out.", purpose.TTL.Duration, req.Purpose))
		default:
			ttl = d
		}
	}

	if len(ref.Errors) > 0 {
		return nil, ref
	}

	text := req.Text
	if !isText {
		if err := p.broken[name]; err != nil {
			ref.add("template", CodeTemplateRenderFailed,
				fmt.Sprintf("Template %s does not parse; ask the operator to fix it in the configuration.", name))
			return nil, ref
		}
		if text, err = execute(p.templates[name], req.Params); err != nil {
			ref.add("template", CodeTemplateRenderFailed,
				fmt.Sprintf("Template %s could not be rendered with these params; check their values or ask the operator to check the template.", name))
			return nil, ref
		}
	}
	plan := Plan(text)
	if purpose.MaxSegments > 0 && len(plan.Parts) > purpose.MaxSegments {
		field := "params"
		if isText {
			field = "text"
		}
		ref.add(field, CodeTooManySegments,
			fmt.Sprintf("Shorten the message: it takes %d SMS parts (%s) and purpose %s allows %d.", len(plan.Parts), plan.Encoding, req.Purpose, purpose.MaxSegments))
		return nil, ref
	}

	m := &store.Message{
		ID:          ulid.Make().String(),
		Client:      clientName,
		To:          num.E164,
		Purpose:     req.Purpose,
		Template:    name,
		Text:        req.Text,
		State:       store.Queued,
		MaxAttempts: p.cfg.Queue.MaxAttempts,
		Parts:       len(plan.Parts),
		Encoding:    string(plan.Encoding),
		CreatedAt:   now,
		UpdatedAt:   now,
		DueAt:       now,
		ExpiresAt:   now.Add(ttl),
	}
	if !isText {
		m.Params = maps.Clone(req.Params)
		m.SecretParams = secretParams(p.cfg.Policy.Templates[name])
	}
	return m, nil
}

// Admission returns the checks the store makes when it creates m: the
// opt-out list, consent for purposes that need it, and every configured
// rate limit that applies.
func (p *Policy) Admission(m *store.Message) store.Admission {
	purpose := p.cfg.Policy.Purposes[m.Purpose]
	adm := store.Admission{CheckOptOut: !m.OptOutExempt, RequireConsent: purpose.RequiresConsent}
	add := func(scope store.LimitScope, r config.Rate) {
		if !r.IsZero() {
			adm.Limits = append(adm.Limits, store.Limit{Scope: scope, Count: r.Count, Window: r.Window})
		}
	}
	add(store.ScopeRecipientPurpose, purpose.Limits.PerRecipient)
	add(store.ScopeRecipient, p.cfg.Policy.Limits.PerRecipient)
	add(store.ScopeClientPurpose, purpose.Limits.PerClient)
	add(store.ScopeClient, p.cfg.Policy.Limits.PerClient)
	add(store.ScopeGlobal, p.cfg.Policy.Limits.Global)
	return adm
}

// invalidText says what is wrong with a free text, or "" if nothing is.
func invalidText(v string) string {
	switch {
	case len(v) > MaxTextBytes:
		return fmt.Sprintf("is at most %d bytes long", MaxTextBytes)
	case !utf8.ValidString(v):
		return "is valid UTF-8"
	case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
		return "has no control characters other than newlines"
	}
	return ""
}

// resolveTemplate finds the template the request asks for, or the only
// template of its purpose when it names none. ok is false when no template
// could be found; a template that exists but is not allowed for the purpose
// is still returned, so that its params can be checked too.
func (p *Policy) resolveTemplate(req client.SubmitRequest, purpose config.Purpose, purposeOK bool, ref *Refusal) (string, config.Template, bool) {
	name := req.Template
	if name == "" {
		if !purposeOK {
			// The purpose refusal already says what to fix first.
			return "", config.Template{}, false
		}
		if len(purpose.Templates) != 1 {
			ref.add("template", CodeTemplateUnknown,
				fmt.Sprintf("Name the template: purpose %s allows %s.", req.Purpose, list(purpose.Templates)))
			return "", config.Template{}, false
		}
		name = purpose.Templates[0]
	}
	tpl, ok := p.cfg.Policy.Templates[name]
	if !ok {
		detail := "Use one of the templates configured for the purpose."
		if purposeOK {
			detail = fmt.Sprintf("Use one of the templates of purpose %s: %s.", req.Purpose, list(purpose.Templates))
		}
		ref.add("template", CodeTemplateUnknown, detail)
		return "", config.Template{}, false
	}
	if purposeOK && !slices.Contains(purpose.Templates, name) {
		ref.add("template", CodeTemplateNotAllowed,
			fmt.Sprintf("Use one of the templates of purpose %s: %s.", req.Purpose, list(purpose.Templates)))
	}
	return name, tpl, true
}

// checkParams requires exactly the declared params, each with an acceptable
// value. Problems are reported in parameter name order.
func checkParams(tpl config.Template, patterns map[string]*regexp.Regexp, params map[string]string, ref *Refusal) {
	for _, name := range slices.Sorted(maps.Keys(tpl.Params)) {
		if _, ok := params[name]; !ok {
			ref.add("params."+name, CodeTemplateParamMissing,
				fmt.Sprintf("Add the param %s that the template needs.", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if _, ok := tpl.Params[name]; !ok {
			ref.add("params."+name, CodeTemplateParamUnexpected,
				fmt.Sprintf("Remove the param %s: the template does not declare it.", name))
			continue
		}
		if why := invalidParam(params[name]); why != "" {
			ref.add("params."+name, CodeTemplateParamInvalid,
				fmt.Sprintf("Give param %s a value that %s.", name, why))
			continue
		}
		if re := patterns[name]; re != nil && !re.MatchString(params[name]) {
			ref.add("params."+name, CodeTemplateParamInvalid,
				fmt.Sprintf("Give param %s a value that matches the pattern %s.", name, tpl.Params[name].Pattern))
		}
	}
}

// invalidParam says what is wrong with a param value, or "" if nothing is.
func invalidParam(v string) string {
	switch {
	case v == "":
		return "is not empty"
	case len(v) > MaxParamBytes:
		return fmt.Sprintf("is at most %d bytes long", MaxParamBytes)
	case !utf8.ValidString(v):
		return "is valid UTF-8"
	case strings.ContainsFunc(v, unicode.IsControl):
		return "has no control characters such as newlines or tabs"
	}
	return ""
}

func secretParams(tpl config.Template) []string {
	var names []string
	for name, p := range tpl.Params {
		if p.Secret {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func list(names []string) string {
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

// KnownPurpose reports whether name is a configured purpose.
func (p *Policy) KnownPurpose(name string) bool {
	_, ok := p.cfg.Policy.Purposes[name]
	return ok
}

// Reply returns the confirmation to send to a number that just texted kw,
// as configured in policy.opt_out, or nil. A reply to STOP is exempt from
// the opt-out list: it is the one message the number still gets.
func (p *Policy) Reply(to string, kw Keyword, now time.Time) *store.Message {
	name := p.cfg.Policy.OptOut.StartReply
	if kw == KeywordStop {
		name = p.cfg.Policy.OptOut.StopReply
	}
	if name == "" || p.templates[name] == nil {
		return nil
	}
	text, err := execute(p.templates[name], nil)
	if err != nil {
		return nil
	}
	plan := Plan(text)
	return &store.Message{
		ID:           ulid.Make().String(),
		Client:       "smsgw",
		To:           to,
		Purpose:      ReplyPurpose,
		Template:     name,
		OptOutExempt: kw == KeywordStop,
		State:        store.Queued,
		MaxAttempts:  p.cfg.Queue.MaxAttempts,
		Parts:        len(plan.Parts),
		Encoding:     string(plan.Encoding),
		CreatedAt:    now,
		UpdatedAt:    now,
		DueAt:        now,
		ExpiresAt:    now.Add(ReplyTTL),
	}
}

// ReplyPurpose is the purpose of keyword confirmations; without a route of
// its own it may use every device.
const ReplyPurpose = "keyword_reply"

// ReplyTTL is how long a keyword confirmation stays worth sending.
const ReplyTTL = time.Hour
