package session

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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
