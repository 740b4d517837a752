package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

// A console form whose action a dependency failed says that part of it
// may have taken effect: it said the site's "Nothing was stored", which an
// action of several steps (a decision, then its ledger entry and emails)
// cannot promise. A page (GET) that failed is left to the router's
// "could not load". The team's mistakes keep their own answers.
func TestConsoleActionUnavailable(t *testing.T) {
	c := &Console{BaseURL: "https://privacy.example.com", Log: slog.New(slog.DiscardHandler)}
	req := func(method string) httpapi.Request {
		r := httpapi.Request{RouteKey: method + " /console/requests/{id}", Method: method, Path: "/console/requests/r1",
			Headers:    map[string]string{"content-type": "application/x-www-form-urlencoded", "origin": "https://privacy.example.com"},
			Cookies:    []string{session.CSRFCookie + "=tok"},
			Authorizer: map[string]any{"by": "member@example.com", "role": session.RoleTeam}}
		if method == http.MethodPost {
			r.Body = "csrf=tok&action=extend"
		}
		return r
	}
	refusal := &httpapi.Error{Status: http.StatusConflict, Code: "conflict", Message: "Already decided."}
	for _, tc := range []struct {
		name, method string
		err          error
		want         *httpapi.Error
	}{
		{"a form whose store failed", http.MethodPost, errors.New("throttled"), errActionUnavailable},
		{"a form the operator refused", http.MethodPost, refusal, refusal},
		{"a page whose store failed", http.MethodGet, errors.New("throttled"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := c.signedIn(func(context.Context, httpapi.Request, Member, url.Values) (Page, error) { return Page{}, tc.err })
			_, err := h(context.Background(), req(tc.method))
			var e *httpapi.Error
			switch {
			case tc.want == nil && errors.As(err, &e):
				t.Errorf("answered %v, want the failure left to the router", e)
			case tc.want != nil && (!errors.As(err, &e) || e != tc.want):
				t.Errorf("answered %v, want %v", err, tc.want)
			}
		})
	}
	if strings.Contains(errActionUnavailable.Message, "Nothing was stored") || errActionUnavailable.Status != http.StatusServiceUnavailable {
		t.Errorf("the answer: %d %q", errActionUnavailable.Status, errActionUnavailable.Message)
	}
}
