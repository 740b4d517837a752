package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Authorize answers API Gateway's authorizer (payload 2.0, simple
// responses; apigw.AuthorizerOr reads the event): the member Admit finds
// in its cookies, handed to the console as the authorizer's context; it
// never fails (a failure refuses).
func (a *Authorizer) Authorize(ctx context.Context, ev httpapi.AuthorizerRequest) httpapi.AuthorizerResponse {
	ctx = lambdalog.WithRequestID(ctx, ev.RequestID)
	m, ok := a.Admit(ctx, ev.Cookies, ev.RouteKey)
	if !ok {
		return httpapi.AuthorizerResponse{IsAuthorized: false}
	}
	return httpapi.AuthorizerResponse{IsAuthorized: true, Context: map[string]any{"by": m.Email, "role": m.Role}}
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
	if err := c.revoke(ctx, Cookie(r.Cookies, RefreshCookie), Cookie(r.Cookies, AccessCookie)); err != nil {
		c.Log.ErrorContext(ctx, "console sign-out: the tokens were not revoked", "error", err.Error())
		return httpapi.Response{}, err
	}
	// A page that sends the browser on, not a redirect: the pages' CSP
	// (form-action 'self') refuses a form whose answer redirects to
	// another origin.
	resp := Render(c.Log, http.StatusOK, "message", web.ConsolePage{Title: "Signing out", Refresh: to, Data: Message{
		Text: "You are signed out of the console; now of its sign-in.", Link: to, LinkText: "Continue signing out"}})
	resp.Cookies = signedOutCookies()
	return resp, nil
}

func (c *SignIn) signedOut(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	return Render(c.Log, http.StatusOK, "message", web.ConsolePage{Title: "Signed out", Data: Message{
		Text: "You are signed out of the console and of its sign-in.", Link: "/console/login", LinkText: "Sign in"}}), nil
}

// login starts the authorization-code flow with PKCE: the state, nonce
// and verifier wait in a short-lived cookie that only the callback reads.
func (c *SignIn) login(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	to, login, err := c.begin()
	if err != nil {
		return httpapi.Response{}, err
	}
	// Lax: the identity provider's redirect back is a cross-site
	// navigation, which a Strict cookie would not follow.
	return httpapi.Response{StatusCode: http.StatusFound, Headers: map[string]string{"Location": to, "Cache-Control": "no-store"},
		Cookies: []string{SetCookie(LoginCookie, login, "/console/callback", 600, "Lax")}}, nil
}

// callback finishes the sign-in (finish); the session and CSRF cookies
// are set, and the page sends the browser on to the console.
func (c *SignIn) callback(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	again := func(status int, text string) (httpapi.Response, error) {
		resp := Render(c.Log, status, "message", web.ConsolePage{Title: "Not signed in", Data: Message{Text: text, Link: "/console/login", LinkText: "Sign in again"}})
		resp.Cookies = []string{SetCookie(LoginCookie, "", "/console/callback", 0, "Lax")}
		return resp, nil
	}
	q := r.Query
	s, err := c.finish(ctx, Cookie(r.Cookies, LoginCookie), q["state"], q["code"], q["error"])
	switch {
	case errors.Is(err, errNotStartedHere):
		return again(http.StatusBadRequest, "This sign-in was not started here, or took longer than ten minutes. Nothing was changed.")
	case errors.Is(err, errNotCompleted):
		return again(http.StatusUnauthorized, "The sign-in was not completed.")
	case errors.Is(err, errExchange):
		return again(http.StatusUnauthorized, "The sign-in could not be completed.")
	case errors.Is(err, errNotMember):
		return again(http.StatusUnauthorized, "This account may not use the console (it is in neither the privacy team nor its viewers).")
	case err != nil:
		return httpapi.Response{}, err
	}
	resp := Render(c.Log, http.StatusOK, "signed-in", web.ConsolePage{Title: "Signed in", Refresh: "/console", Data: s.Member.Email})
	resp.Cookies = c.sessionCookies(s, int(time.Until(s.Expiry).Seconds()))
	return resp, nil
}

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
