// Package policy decides whether a submitted message is acceptable and turns
// it into a message record: the recipient number, the purpose, the template
// and its parameters, the validity, and the segment plan of the rendered
// text. Consent, opt-outs and rate limits will join it; they answer the same
// question, so they belong here rather than in the API.
package policy

import (
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

// Refusal codes. They are stable: clients switch on them.
const (
	CodeRecipientInvalid        = "recipient_invalid"
	CodePurposeUnknown          = "purpose_unknown"
	CodeTemplateUnknown         = "template_unknown"
	CodeTemplateNotAllowed      = "template_not_allowed"
	CodeTemplateParamMissing    = "template_param_missing"
	CodeTemplateParamUnexpected = "template_param_unexpected"
	CodeTemplateParamInvalid    = "template_param_invalid"
	CodeTTLInvalid              = "ttl_invalid"
	// CodeTemplateRenderFailed means the configured template could not be
	// rendered with the given params, e.g. it does not parse.
	CodeTemplateRenderFailed = "template_render_failed"
)

// MaxParamBytes caps the length of one template parameter value.
const MaxParamBytes = 200

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// IsE164 reports whether s is a phone number in E.164 form, such as
// +33612345678.
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
	cfg *config.Config
	// templates holds each configured template parsed once; a template
	// that does not parse maps to its error instead.
	templates map[string]*template.Template
	broken    map[string]error
}

// New returns a policy for cfg. cfg must not change afterwards; a reload
// builds a new Policy.
func New(cfg *config.Config) *Policy {
	p := &Policy{
		cfg:       cfg,
		templates: make(map[string]*template.Template, len(cfg.Policy.Templates)),
		broken:    make(map[string]error),
	}
	for name, tpl := range cfg.Policy.Templates {
		t, err := parseTemplate(tpl)
		if err != nil {
			p.broken[name] = err
			continue
		}
		p.templates[name] = t
	}
	return p
}

// Prepare checks req, submitted by clientName at now, and returns the message
// to store, or a Refusal listing every problem found. The message is queued,
// due now, and expires after the request's ttl or, without one, the
// purpose's.
func (p *Policy) Prepare(req client.SubmitRequest, clientName string, now time.Time) (*store.Message, *Refusal) {
	ref := &Refusal{}

	if !IsE164(req.To) {
		ref.add("to", CodeRecipientInvalid,
			"Give the recipient in E.164 form: a plus sign, the country code and the number, such as +33612345678.")
	}

	purpose, purposeOK := p.cfg.Policy.Purposes[req.Purpose]
	if !purposeOK {
		ref.add("purpose", CodePurposeUnknown,
			fmt.Sprintf("Use one of the configured purposes: %s.", list(slices.Sorted(maps.Keys(p.cfg.Policy.Purposes)))))
	}

	name, tpl, tplOK := p.resolveTemplate(req, purpose, purposeOK, ref)
	if tplOK {
		checkParams(tpl, req.Params, ref)
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

	if err := p.broken[name]; err != nil {
		ref.add("template", CodeTemplateRenderFailed,
			fmt.Sprintf("Template %s does not parse; ask the operator to fix it in the configuration.", name))
		return nil, ref
	}
	text, err := execute(p.templates[name], req.Params)
	if err != nil {
		ref.add("template", CodeTemplateRenderFailed,
			fmt.Sprintf("Template %s could not be rendered with these params; check their values or ask the operator to check the template.", name))
		return nil, ref
	}
	plan := Plan(text)

	return &store.Message{
		ID:           ulid.Make().String(),
		Client:       clientName,
		To:           req.To,
		Purpose:      req.Purpose,
		Template:     name,
		Params:       maps.Clone(req.Params),
		SecretParams: secretParams(tpl),
		State:        store.Queued,
		MaxAttempts:  p.cfg.Queue.MaxAttempts,
		Parts:        len(plan.Parts),
		Encoding:     string(plan.Encoding),
		CreatedAt:    now,
		UpdatedAt:    now,
		DueAt:        now,
		ExpiresAt:    now.Add(ttl),
	}, nil
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
func checkParams(tpl config.Template, params map[string]string, ref *Refusal) {
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
