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

// revoke revokes the session's tokens at the provider (RFC 7009): its
// refresh token when it has one (Cognito revokes with it the access
// tokens it issued; it takes no other), else its access token.
func (c *SignIn) revoke(ctx context.Context, refreshToken, accessToken string) error {
	token, hint := refreshToken, "refresh_token"
	if token == "" {
		token, hint = accessToken, "access_token"
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

// sessionCookies are the cookies of a signed-in session for life seconds:
// its ID and access tokens, their binding, the CSRF token, the refresh
// token (for sign-out to revoke; sent nowhere else), and the login
// cookie cleared.
func (c *SignIn) sessionCookies(s signedIn, life int) []string {
	cookies := []string{
		SetCookie(SessionCookie, s.IDToken, "/console", life, "Strict"),
		SetCookie(AccessCookie, s.AccessToken, "/console", life, "Strict"),
		SetCookie(BindCookie, c.Binding.Seal(s.IDToken, s.AccessToken), "/console", life, "Strict"),
		SetCookie(CSRFCookie, Random(), "/console", life, "Strict"),
		SetCookie(LoginCookie, "", "/console/callback", 0, "Lax"),
	}
	if s.RefreshToken != "" {
		cookies = append(cookies, SetCookie(RefreshCookie, s.RefreshToken, "/console/logout", life, "Strict"))
	}
	return cookies
}

// signedOutCookies clear every cookie of a session.
func signedOutCookies() []string {
	return []string{SetCookie(SessionCookie, "", "/console", 0, "Strict"), SetCookie(AccessCookie, "", "/console", 0, "Strict"),
		SetCookie(BindCookie, "", "/console", 0, "Strict"), SetCookie(RefreshCookie, "", "/console/logout", 0, "Strict"),
		SetCookie(CSRFCookie, "", "/console", 0, "Strict")}
}

// Cookie is a Set-Cookie value: HttpOnly, Secure, with its SameSite.
func SetCookie(name, value, path string, maxAge int, sameSite string) string {
	return fmt.Sprintf("%s=%s; Path=%s; Max-Age=%d; HttpOnly; Secure; SameSite=%s", name, value, path, maxAge, sameSite)
}

func (c *SignIn) oauth(prov *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.Provider.ClientID, Endpoint: prov.Endpoint(),
		RedirectURL: strings.TrimRight(c.BaseURL, "/") + "/console/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// Random is a fresh random token (24 bytes, base64url).
func Random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// begin starts the authorization-code flow with PKCE: where to send the
// browser, and the state, nonce and verifier the callback needs back
// (LoginCookie's value).
func (c *SignIn) begin() (to, login string, err error) {
	prov, err := c.Provider.get()
	if err != nil {
		return "", "", err
	}
	state, nonce, verifier := Random(), Random(), oauth2.GenerateVerifier()
	return c.oauth(prov).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), state + "." + nonce + "." + verifier, nil
}

// Why a sign-in's callback did not sign in.
var (
	errNotStartedHere = errors.New("sign-in not started here or too old")
	errNotCompleted   = errors.New("sign-in not completed")
	errExchange       = errors.New("code exchange refused")
	errNotMember      = errors.New("not a member")
)

// signedIn is a finished sign-in: who, and the session's tokens.
type signedIn struct {
	Member                             Member
	IDToken, AccessToken, RefreshToken string
	Expiry                             time.Time
}

// finish finishes a sign-in: state must be login's (LoginCookie's value),
// the code is exchanged with its verifier, the ID token checked (and its
// nonce). providerError is the error the provider sent back, if any. A
// refusal is one of the errNot... errors; any other is the provider's
// failure.
func (c *SignIn) finish(ctx context.Context, login, state, code, providerError string) (signedIn, error) {
	parts := strings.Split(login, ".")
	if len(parts) != 3 || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(parts[0])) != 1 {
		return signedIn{}, errNotStartedHere
	}
	if providerError != "" || code == "" {
		return signedIn{}, errNotCompleted
	}
	prov, err := c.Provider.get()
	if err != nil {
		return signedIn{}, err
	}
	if c.Provider.Client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, c.Provider.Client)
	}
	tok, err := c.oauth(prov).Exchange(ctx, code, oauth2.VerifierOption(parts[2]))
	if err != nil {
		c.Log.WarnContext(ctx, "console code exchange refused", "error", err.Error())
		return signedIn{}, errExchange
	}
	raw, _ := tok.Extra("id_token").(string)
	m, idt, err := c.Provider.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		return signedIn{}, errNotMember
	}
	c.Log.InfoContext(ctx, "console sign-in", "role", m.Role)
	return signedIn{Member: m, IDToken: raw, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: idt.Expiry}, nil
}

// Message is the data of the console's message page.
type Message struct{ Text, Link, LinkText string }
