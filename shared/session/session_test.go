package session

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
)

func TestCookie(t *testing.T) {
	for _, tc := range []struct {
		cookies []string
		want    string
	}{
		{[]string{"pk_console=abc"}, "abc"},
		{[]string{"a=1", "pk_console=a.b.c"}, "a.b.c"},
		{[]string{"a=1; pk_console=x"}, "x"},
		{[]string{"pk_console_old=1"}, ""},
		{[]string{"xpk_console=1"}, ""},
		{nil, ""},
	} {
		if got := Cookie(tc.cookies, SessionCookie); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.cookies, got, tc.want)
		}
	}
}

// The authorizer refuses (never fails, never admits) without a session,
// with a token that is not one, and when the provider cannot be reached or
// is not configured; the console behind it is never reached as nobody.
func TestAuthorizerRefuses(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tc := range []struct {
		name     string
		provider *Provider
		cookies  []string
	}{
		{"no cookie", NewProvider(down.URL, "client"), nil},
		{"not a token", NewProvider(down.URL, "client"), []string{"pk_console=forged"}},
		{"provider down", NewProvider(down.URL, "client"), []string{"pk_console=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}},
		{"not configured", NewProvider("", ""), []string{"pk_console=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authorizer{Provider: tc.provider, Log: log}
			resp, err := a.Authorize(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{Cookies: tc.cookies})
			if err != nil || resp.IsAuthorized || len(resp.Context) != 0 {
				t.Fatalf("%+v %v", resp, err)
			}
		})
	}
}

func TestOwnPost(t *testing.T) {
	const base = "https://privacy.example.com"
	req := func(cookie, site, origin string) httpapi.Request {
		r := httpapi.Request{}
		if cookie != "" {
			r.Cookies = []string{CSRFCookie + "=" + cookie}
		}
		r.Headers = map[string]string{}
		if site != "" {
			r.Headers["sec-fetch-site"] = site
		}
		if origin != "" {
			r.Headers["origin"] = origin
		}
		return r
	}
	form := url.Values{"csrf": {"tok"}}
	for _, tc := range []struct {
		name string
		r    httpapi.Request
		form url.Values
		want bool
	}{
		{"own page", req("tok", "same-origin", base), form, true},
		{"own page, origin hidden by no-referrer", req("tok", "same-origin", "null"), form, true},
		{"an old browser without fetch metadata", req("tok", "", ""), form, true},
		{"no token in the form", req("tok", "same-origin", base), url.Values{}, false},
		{"another token", req("other", "same-origin", base), form, false},
		{"no cookie", req("", "same-origin", base), form, false},
		{"another origin of the site", req("tok", "same-site", "https://blog.example.com"), form, false},
		{"another site", req("tok", "cross-site", "https://evil.example"), form, false},
		{"another origin without fetch metadata", req("tok", "", "https://evil.example"), form, false},
	} {
		if got := OwnPost(tc.r, tc.form, base); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
