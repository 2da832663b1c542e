package api

import (
	"net/http"
	"testing"
	"time"

	"smsgw/daemon/store"
)

// TestSubmitAdmissionRefusals maps each refusal of the store's admission
// checks to its status, code and headers.
func TestSubmitAdmissionRefusals(t *testing.T) {
	const body = `{"to":"+33612345678","purpose":"otp","params":{"code":"123456"}}`
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{"opted out", store.ErrOptedOut, http.StatusForbidden, "recipient_opted_out", ""},
		{"consent missing", store.ErrConsentMissing, http.StatusForbidden, "consent_missing", ""},
		{"recipient limit", &store.RateLimitError{Limit: store.Limit{Scope: store.ScopeRecipient, Count: 5, Window: time.Hour}, RetryAfter: 1500 * time.Millisecond},
			http.StatusTooManyRequests, "rate_limited_recipient", "2"},
		{"global limit", &store.RateLimitError{Limit: store.Limit{Scope: store.ScopeGlobal, Count: 100, Window: time.Minute}, RetryAfter: 30 * time.Second},
			http.StatusTooManyRequests, "rate_limited_global", "30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fb.submitErr = tt.err
			w := h.do(t, http.MethodPost, "/v1/messages", body, withHeader("Content-Type", "application/json"))
			p := recProblem(t, w, tt.status, tt.code)
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if tt.retryAfter != "" && (p.Limit == nil || p.Limit.Scope == "" || p.Limit.Count == 0) {
				t.Errorf("problem %+v does not name the limit", p)
			}
			if p.Detail == "" {
				t.Error("no detail")
			}
			if len(h.fb.admissions) != 1 || !h.fb.admissions[0].CheckOptOut {
				t.Errorf("admission %+v: want the opt-out list checked", h.fb.admissions)
			}
		})
	}
}
