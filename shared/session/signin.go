package session

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// SignIn serves the routes a browser without a session reaches: signing
// in (GET /console/login, GET /console/callback) and out (POST
// /console/logout, GET /console/signed-out). It runs in the console's
// authorizer function, which holds no table and no secret but its
// session key, so nothing a stranger reaches can act for the team.
type SignIn struct {
	Provider *Provider
	// Binding seals the pair of tokens a sign-in receives (BindCookie).
	Binding *Binding
	// BaseURL is the public base URL of the API (the callback is under it).
	BaseURL string
	// LogoutURL ends the session at an identity provider whose discovery
	// names no end_session_endpoint (Cognito: its /logout) and comes back
	// to /console/signed-out.
	LogoutURL string
	// RevokeURL is the token revocation endpoint (RFC 7009) of a provider
	// whose discovery names no revocation_endpoint (Cognito's
	// /oauth2/revoke).
	RevokeURL string
	Log       *slog.Logger
}

// Routes registers the sign-in's routes.
func (c *SignIn) Routes(rt *httpapi.Router) {
	rt.Handle("GET /console/login", c.login)
	rt.Handle("GET /console/callback", c.callback)
	rt.Handle("POST /console/logout", c.logout)
	rt.Handle("GET /console/signed-out", c.signedOut)
}

// logout revokes the session's tokens at the identity provider (so a
// copy of the cookies is refused from now on: the authorizer asks the
// provider about the access token on every request), clears the console's
// cookies and sends the browser to end its session at the identity
// provider too: else the next sign-in on that browser would pass without
// a password. It needs the session's CSRF token (another page cannot sign
// a member out). When the provider cannot revoke, nothing is cleared and
// the router answers 503: the member tries again.
func (c *SignIn) logout(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	body, err := httpapi.Body(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || !OwnPost(r, form, c.BaseURL) {
		return Render(c.Log, http.StatusForbidden, "message", web.ConsolePage{Title: "Refused", Data: Message{
			Text: "This sign-out did not come from the console's own page; nothing was done.", Link: "/console", LinkText: "Back to the console"}}), nil
	}
	to, err := c.endSession()
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := c.revoke(ctx, r); err != nil {
		c.Log.ErrorContext(ctx, "console sign-out: the tokens were not revoked", "error", err.Error())
		return httpapi.Response{}, err
	}
	// A page that sends the browser on, not a redirect: the pages' CSP
	// (form-action 'self') refuses a form whose answer redirects to
	// another origin.
	resp := Render(c.Log, http.StatusOK, "message", web.ConsolePage{Title: "Signing out", Refresh: to, Data: Message{
		Text: "You are signed out of the console; now of its sign-in.", Link: to, LinkText: "Continue signing out"}})
	resp.Cookies = []string{SetCookie(SessionCookie, "", "/console", 0, "Strict"), SetCookie(AccessCookie, "", "/console", 0, "Strict"),
		SetCookie(BindCookie, "", "/console", 0, "Strict"), SetCookie(RefreshCookie, "", "/console/logout", 0, "Strict"), SetCookie(CSRFCookie, "", "/console", 0, "Strict")}
	return resp, nil
}

// revoke revokes the session's tokens at the provider (RFC 7009): its
// refresh token when it has one (Cognito revokes with it the access
// tokens it issued; it takes no other), else its access token.
func (c *SignIn) revoke(ctx context.Context, r httpapi.Request) error {
	token, hint := Cookie(r.Cookies, RefreshCookie), "refresh_token"
	if token == "" {
		token, hint = Cookie(r.Cookies, AccessCookie), "access_token"
	}
	if token == "" {
		return nil // no session to end here: the authorizer refuses it anyway
	}
	prov, err := c.Provider.get()
	if err != nil {
		return err
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	endpoint := c.RevokeURL
	if err := prov.Claims(&meta); err == nil && meta.Revocation != "" {
		endpoint = meta.Revocation
	}
	if endpoint == "" {
		return errors.New("the identity provider names no revocation_endpoint and CONSOLE_REVOKE_URL is empty")
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {c.Provider.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Provider.client().Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: status %d", resp.StatusCode)
	}
	return nil
}

// endSession is where the provider ends its session and sends the browser
// back to /console/signed-out: its end_session_endpoint (OpenID RP-initiated
// logout) when its discovery names one, else LogoutURL (Cognito's /logout).
func (c *SignIn) endSession() (string, error) {
	prov, err := c.Provider.get()
	if err != nil {
		return "", err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&meta); err != nil || meta.EndSession == "" {
		if c.LogoutURL == "" {
			return "", fmt.Errorf("the identity provider names no end_session_endpoint and CONSOLE_LOGOUT_URL is empty")
		}
		return c.LogoutURL, nil
	}
	q := url.Values{"client_id": {c.Provider.ClientID}, "post_logout_redirect_uri": {strings.TrimRight(c.BaseURL, "/") + "/console/signed-out"}}
	return meta.EndSession + "?" + q.Encode(), nil
}

func (c *SignIn) signedOut(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	return Render(c.Log, http.StatusOK, "message", web.ConsolePage{Title: "Signed out", Data: Message{
		Text: "You are signed out of the console and of its sign-in.", Link: "/console/login", LinkText: "Sign in"}}), nil
}

// Cookie is a Set-Cookie value: HttpOnly, Secure, with its SameSite.
func SetCookie(name, value, path string, maxAge int, sameSite string) string {
	return fmt.Sprintf("%s=%s; Path=%s; Max-Age=%d; HttpOnly; Secure; SameSite=%s", name, value, path, maxAge, sameSite)
}

func (c *SignIn) oauth(prov *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.Provider.ClientID, Endpoint: prov.Endpoint(),
		RedirectURL: strings.TrimRight(c.BaseURL, "/") + "/console/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// login starts the authorization-code flow with PKCE: the state, nonce
// and verifier wait in a short-lived cookie that only the callback reads.
func (c *SignIn) login(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	prov, err := c.Provider.get()
	if err != nil {
		return httpapi.Response{}, err
	}
	state, nonce, verifier := Random(), Random(), oauth2.GenerateVerifier()
	to := c.oauth(prov).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	// Lax: the identity provider's redirect back is a cross-site
	// navigation, which a Strict cookie would not follow.
	return httpapi.Response{StatusCode: http.StatusFound, Headers: map[string]string{"Location": to, "Cache-Control": "no-store"},
		Cookies: []string{SetCookie(LoginCookie, state+"."+nonce+"."+verifier, "/console/callback", 600, "Lax")}}, nil
}

// callback finishes the sign-in: the state must be the login's, the code
// is exchanged with its verifier, the ID token checked (and its nonce);
// the session and CSRF cookies are set, and the page sends the browser on
// to the console.
func (c *SignIn) callback(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	again := func(status int, text string) (httpapi.Response, error) {
		resp := Render(c.Log, status, "message", web.ConsolePage{Title: "Not signed in", Data: Message{Text: text, Link: "/console/login", LinkText: "Sign in again"}})
		resp.Cookies = []string{SetCookie(LoginCookie, "", "/console/callback", 0, "Lax")}
		return resp, nil
	}
	parts := strings.Split(Cookie(r.Cookies, LoginCookie), ".")
	q := r.QueryStringParameters
	if len(parts) != 3 || q["state"] == "" || subtle.ConstantTimeCompare([]byte(q["state"]), []byte(parts[0])) != 1 {
		return again(http.StatusBadRequest, "This sign-in was not started here, or took longer than ten minutes. Nothing was changed.")
	}
	if q["error"] != "" || q["code"] == "" {
		return again(http.StatusUnauthorized, "The sign-in was not completed.")
	}
	prov, err := c.Provider.get()
	if err != nil {
		return httpapi.Response{}, err
	}
	if c.Provider.Client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, c.Provider.Client)
	}
	tok, err := c.oauth(prov).Exchange(ctx, q["code"], oauth2.VerifierOption(parts[2]))
	if err != nil {
		c.Log.WarnContext(ctx, "console code exchange refused", "error", err.Error())
		return again(http.StatusUnauthorized, "The sign-in could not be completed.")
	}
	raw, _ := tok.Extra("id_token").(string)
	m, idt, err := c.Provider.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		return again(http.StatusUnauthorized, "This account may not use the console (it is in neither the privacy team nor its viewers).")
	}
	life := int(time.Until(idt.Expiry).Seconds())
	c.Log.InfoContext(ctx, "console sign-in", "role", m.Role)
	resp := Render(c.Log, http.StatusOK, "signed-in", web.ConsolePage{Title: "Signed in", Refresh: "/console", Data: m.Email})
	resp.Cookies = []string{
		SetCookie(SessionCookie, raw, "/console", life, "Strict"),
		SetCookie(AccessCookie, tok.AccessToken, "/console", life, "Strict"),
		SetCookie(BindCookie, c.Binding.Seal(raw, tok.AccessToken), "/console", life, "Strict"),
		SetCookie(CSRFCookie, Random(), "/console", life, "Strict"),
		SetCookie(LoginCookie, "", "/console/callback", 0, "Lax"),
	}
	if tok.RefreshToken != "" { // for sign-out to revoke; sent nowhere else
		resp.Cookies = append(resp.Cookies, SetCookie(RefreshCookie, tok.RefreshToken, "/console/logout", life, "Strict"))
	}
	return resp, nil
}

// Message is the data of the console's message page.
type Message struct{ Text, Link, LinkText string }

// Render renders a console page with the given status.
func Render(log *slog.Logger, status int, name string, p web.ConsolePage) httpapi.Response {
	body, err := web.RenderConsole(name, p)
	if err != nil {
		log.Error("console page failed", "page", name, "error", err.Error())
		return httpapi.Response{StatusCode: http.StatusInternalServerError, Body: "internal error",
			Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}
	}
	return httpapi.Response{StatusCode: status, Body: body, Headers: web.Headers()}
}

// Random is a fresh random token (24 bytes, base64url).
func Random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// OwnPost reports whether a form post came from the console's own page:
// it carries the session's CSRF token (the form's csrf field equal to the
// CSRFCookie: double submit), and what the browser says of where it came
// from (Sec-Fetch-Site, Origin) is the console's origin, baseURL's. An
// Origin of "null" is let through: the pages' Referrer-Policy
// (no-referrer) makes a browser hide a form's origin even from its own
// site, and the token and Sec-Fetch-Site still hold.
func OwnPost(r httpapi.Request, form url.Values, baseURL string) bool {
	token := Cookie(r.Cookies, CSRFCookie)
	if token == "" || subtle.ConstantTimeCompare([]byte(form.Get("csrf")), []byte(token)) != 1 {
		return false
	}
	if site := httpapi.Header(r, "sec-fetch-site"); site != "" && site != "same-origin" {
		return false
	}
	origin := httpapi.Header(r, "origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(baseURL)
	return err == nil && strings.EqualFold(origin, u.Scheme+"://"+u.Host)
}
