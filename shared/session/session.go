// Package session is the console's sign-in and sessions: the
// authorization-code flow with PKCE against the stack's identity provider
// (Amazon Cognito; locally an OpenID provider), the session as the ID
// token and its access token in HttpOnly, Secure, SameSite=Strict cookies,
// and the Lambda authorizer that checks them on every console route: the
// ID token (issuer, audience, expiry, signature by the provider's JWKS, the
// member's group), and, with the provider itself, that the access token
// is still good (its userinfo endpoint), so a session signed out (its
// tokens revoked) ends at once, even for a copy of the cookies; and that
// the two tokens were issued together to the console's own callback (its
// Binding). It links nothing of the team's powers: the function it runs in
// holds no table and one secret, the key of that binding.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The cookies of the console.
const (
	// SessionCookie holds the signed-in member's ID token.
	SessionCookie = "pk_console"
	// AccessCookie holds the session's access token, which the provider
	// revokes at sign-out.
	AccessCookie = "pk_console_at"
	// RefreshCookie holds the session's refresh token, sent to sign-out
	// only: revoking it revokes the session's access token at Cognito.
	RefreshCookie = "pk_console_rt"
	// CSRFCookie holds the token every form posts back (double submit).
	CSRFCookie = "pk_csrf"
	// LoginCookie holds a sign-in's state, nonce and PKCE verifier until
	// the callback.
	LoginCookie = "pk_login"
)

// The groups of the user pool: a team member decides, a viewer reads.
const (
	GroupTeam   = "privacy-team"
	GroupViewer = "privacy-viewer"
)

// Roles as the authorizer hands them to the console.
const (
	RoleTeam   = "team"
	RoleViewer = "viewer"
)

// Member is a signed-in member of the privacy team.
type Member struct {
	Email string
	Role  string
}

// Provider is the identity provider: discovered from its issuer on first
// use (and again after a failure), its ID tokens checked for issuer,
// audience (the console's app client), expiry and signature (its JWKS,
// fetched and cached; a new key is fetched when a token names it).
type Provider struct {
	Issuer, ClientID string
	// UserInfoURL is the userinfo endpoint of a provider whose discovery
	// names none (CONSOLE_USERINFO_URL: Cognito's /oauth2/userInfo).
	UserInfoURL string
	// Client fetches the discovery document and the keys.
	Client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewProvider is the provider of issuer for the console's app client.
func NewProvider(issuer, clientID string) *Provider {
	return &Provider{Issuer: issuer, ClientID: clientID, Client: &http.Client{Timeout: 5 * time.Second}}
}

func (p *Provider) get() (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	if p.Issuer == "" || p.ClientID == "" {
		return nil, errors.New("the console's identity provider is not configured (CONSOLE_ISSUER, CONSOLE_CLIENT_ID)")
	}
	// The key set keeps this context for later fetches: not the request's.
	bg := context.Background()
	if p.Client != nil {
		bg = oidc.ClientContext(bg, p.Client)
	}
	dctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(dctx, p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", p.Issuer, err)
	}
	p.provider = prov
	return prov, nil
}

// ErrNoSession is a request without a valid session.
var ErrNoSession = errors.New("no valid session")

// Verify checks an ID token and returns its member; a token whose user is
// in neither group is refused.
func (p *Provider) Verify(ctx context.Context, rawIDToken string) (Member, *oidc.IDToken, error) {
	if rawIDToken == "" {
		return Member{}, nil, ErrNoSession
	}
	prov, err := p.get()
	if err != nil {
		return Member{}, nil, err
	}
	tok, err := prov.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(ctx, rawIDToken)
	if err != nil {
		return Member{}, nil, fmt.Errorf("%w: %v", ErrNoSession, err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"cognito:groups"`
	}
	if err := tok.Claims(&claims); err != nil || claims.Email == "" {
		return Member{}, nil, fmt.Errorf("%w: no email claim", ErrNoSession)
	}
	m := Member{Email: claims.Email}
	switch {
	case slices.Contains(claims.Groups, GroupTeam):
		m.Role = RoleTeam
	case slices.Contains(claims.Groups, GroupViewer):
		m.Role = RoleViewer
	default:
		return Member{}, nil, fmt.Errorf("%w: in neither %s nor %s", ErrNoSession, GroupTeam, GroupViewer)
	}
	return m, tok, nil
}

// client is the client of every call to the provider.
func (p *Provider) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// Live asks the provider whether a session's access token is still good:
// its userinfo endpoint refuses one revoked at sign-out, or by an
// administrator signing the member out everywhere (Cognito's
// AdminUserGlobalSignOut), though the ID token beside it is valid for its
// hour. The answer must be about subject, the ID token's member: a
// session is one member's two tokens. ErrNoSession when the provider
// refuses; another error when it cannot be asked.
func (p *Provider) Live(ctx context.Context, subject, accessToken string) error {
	if accessToken == "" {
		return fmt.Errorf("%w: no access token", ErrNoSession)
	}
	prov, err := p.get()
	if err != nil {
		return err
	}
	endpoint := prov.UserInfoEndpoint()
	if endpoint == "" {
		endpoint = p.UserInfoURL
	}
	if endpoint == "" {
		return errors.New("the identity provider names no userinfo_endpoint and CONSOLE_USERINFO_URL is empty")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := p.client().Do(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusBadRequest:
		return fmt.Errorf("%w: the provider refused the access token (%d)", ErrNoSession, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("userinfo: status %d", resp.StatusCode)
	}
	var info struct {
		Subject string `json:"sub"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil || info.Subject != subject {
		return fmt.Errorf("%w: the access token is not the ID token's member's", ErrNoSession)
	}
	return nil
}

// Cookie returns the named cookie of an API Gateway v2 request's cookies.
func Cookie(cookies []string, name string) string {
	for _, c := range cookies {
		for _, part := range strings.Split(c, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return v
			}
		}
	}
	return ""
}

// Authorizer is the console's Lambda authorizer (payload 2.0, simple
// responses): API Gateway's JWT authorizer reads a token from a header or
// the query only, and a page the browser loads without script carries its
// session in a cookie; this one checks that cookie's ID token exactly as
// the JWT authorizer would, checks that its access token was issued with
// it (Binding), asks the provider whether that access token is still good
// (Live: a signed-out session's is not), and hands the console who signed
// in.
type Authorizer struct {
	Provider *Provider
	Binding  *Binding
	Log      *slog.Logger
}

// Admit returns the member whose session the cookies of a request hold
// (an API Gateway v2 request's cookies): its ID token valid, its access
// token issued with it and still good at the provider. Any failure refuses,
// logged with its reason (route is the refused request's route key).
func (a *Authorizer) Admit(ctx context.Context, cookies []string, route string) (Member, bool) {
	idToken, accessToken := Cookie(cookies, SessionCookie), Cookie(cookies, AccessCookie)
	m, idt, err := a.Provider.Verify(ctx, idToken)
	if err == nil {
		err = a.Binding.Check(idToken, accessToken, Cookie(cookies, BindCookie))
	}
	if err == nil {
		err = a.Provider.Live(ctx, idt.Subject, accessToken)
	}
	if err != nil {
		reason := "invalid session"
		if !errors.Is(err, ErrNoSession) {
			reason = "provider unavailable"
			a.Log.ErrorContext(ctx, "console session not checked", "error", err.Error())
		}
		a.Log.InfoContext(ctx, "console session refused", "route", route, "reason", reason)
		return Member{}, false
	}
	return m, true
}
