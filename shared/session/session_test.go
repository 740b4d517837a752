package session

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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
			a := &Authorizer{Provider: tc.provider, Binding: testBinding(t), Log: log}
			resp := a.Authorize(context.Background(), httpapi.AuthorizerRequest{Cookies: tc.cookies})
			if resp.IsAuthorized || len(resp.Context) != 0 {
				t.Fatalf("%+v", resp)
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

// fakeProvider is an OpenID provider of the test's: discovery, its key,
// and a userinfo endpoint that knows which access tokens are good.
type fakeProvider struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newFakeProvider(t *testing.T, userinfo func(accessToken string) (int, string)) *fakeProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProvider{key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/auth","token_endpoint":"%[1]s/token","jwks_uri":"%[1]s/jwks",`+
				`"userinfo_endpoint":"%[1]s/userinfo","id_token_signing_alg_values_supported":["RS256"]}`, p.URL)
		case "/jwks":
			fmt.Fprintf(w, `{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":%q,"e":%q}]}`,
				b64(key.N.Bytes()), b64(big.NewInt(int64(key.E)).Bytes()))
		case "/userinfo":
			status, body := userinfo(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// idToken is an ID token the provider signed for sub in group.
func (p *fakeProvider) idToken(t *testing.T, sub, group string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"iss": p.URL, "aud": "client", "sub": sub, "email": sub,
		"cognito:groups": []string{group}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	signing := b64([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`)) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

func testBinding(t *testing.T) *Binding {
	t.Helper()
	b, err := NewBinding([]byte("a test key of the console's sessions, 32+"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A valid ID token is not enough: the two tokens must be the pair the
// console's callback sealed (a member removed from the team cannot pair
// the old ID token, which still names the team, with a fresh access
// token), and the provider must still take the access token (not revoked
// at sign-out, nor by an administrator), and for the same member. A copy
// of a signed-out member's cookies, or a signed-out team member's ID
// token beside a viewer's own access token, is refused.
func TestAuthorizerAsksTheProviderAboutTheSession(t *testing.T) {
	p := newFakeProvider(t, func(token string) (int, string) {
		switch token {
		case "live":
			return http.StatusOK, `{"sub":"team@example.com"}`
		case "viewers-own":
			return http.StatusOK, `{"sub":"viewer@example.com"}`
		case "revoked":
			return http.StatusUnauthorized, `{"error":"invalid_token"}`
		}
		return http.StatusInternalServerError, `{"error":"server_error"}`
	})
	b := testBinding(t)
	a := &Authorizer{Provider: NewProvider(p.URL, "client"), Binding: b, Log: slog.New(slog.DiscardHandler)}
	id := p.idToken(t, "team@example.com", GroupTeam)
	sealed := func(at string) []string {
		return []string{SessionCookie + "=" + id, AccessCookie + "=" + at, BindCookie + "=" + b.Seal(id, at)}
	}
	other, _ := NewBinding([]byte("another console's key, 32 characters+"))
	for _, tc := range []struct {
		name    string
		cookies []string
		admit   bool
	}{
		{"a live session", sealed("live"), true},
		{"signed out: its access token revoked", sealed("revoked"), false},
		{"another member's access token", sealed("viewers-own"), false},
		{"no access token", []string{SessionCookie + "=" + id, BindCookie + "=" + b.Seal(id, "")}, false},
		{"the provider cannot answer", sealed("broken"), false},
		{"a live access token not sealed with the ID token", []string{SessionCookie + "=" + id, AccessCookie + "=live", BindCookie + "=" + b.Seal(id, "other")}, false},
		{"no seal", []string{SessionCookie + "=" + id, AccessCookie + "=live"}, false},
		{"a seal by another key", []string{SessionCookie + "=" + id, AccessCookie + "=live", BindCookie + "=" + other.Seal(id, "live")}, false},
		{"a seal that is not base64", []string{SessionCookie + "=" + id, AccessCookie + "=live", BindCookie + "=!!"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := a.Authorize(context.Background(), httpapi.AuthorizerRequest{Cookies: tc.cookies})
			if resp.IsAuthorized != tc.admit {
				t.Fatalf("admitted %v, want %v", resp.IsAuthorized, tc.admit)
			}
			if tc.admit && (resp.Context["by"] != "team@example.com" || resp.Context["role"] != RoleTeam) {
				t.Fatalf("context %v", resp.Context)
			}
		})
	}
}
