package forms

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// The HTTP adapter: the only reader of httpapi.Request in this package. It
// takes what the service needs from the request once (Visit, the decoded
// input, the link's token), calls it, and answers as the contract says
// (JSON, or a page when a browser asked for one).

// Routes registers the handlers under the route keys template.yaml
// declares; every route answers the service's errors as the contract
// does (problem).
func (f *Forms) Routes(rt *httpapi.Router) {
	rt.Routes(problem, map[string]httpapi.HandlerFunc{
		"POST /v1/contact":               f.Contact,
		"GET /v1/health":                 f.Health,
		"POST /v1/subscriptions":         f.Subscribe,
		"GET /v1/subscriptions/confirm":  f.ConfirmPage,
		"POST /v1/subscriptions/confirm": f.Confirm,
		"GET /privacy":                   f.Center,
		"GET /privacy/assets/{name}":     Asset,
	})
}

func visit(r httpapi.Request) Visit {
	return Visit{RequestID: r.RequestID, Lang: pages.Lang(r).Code, GPC: httpapi.GPC(r),
		Meta: httpapi.Meta(r, time.Time{}), PolicyVersion: r.Site.PolicyVersion, Bases: r.Site.Bases}
}

// problem is err as the contract answers it.
func problem(err error) error {
	var tooMany *TooMany
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Validation(v)
	}
	switch {
	case errors.As(err, &tooMany):
		return httpapi.RateLimited(tooMany.RetryAfter)
	case errors.Is(err, ErrBadLink):
		return httpapi.ErrInvalidToken
	case errors.Is(err, ErrRestricted):
		return httpapi.ErrRestricted
	}
	return err
}

// Contact handles POST /v1/contact.
func (f *Forms) Contact(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	id, err := f.SubmitContact(ctx, visit(r), in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusAccepted, map[string]string{"id": id, "status": "received"}, "contact.received", id), nil
}

// Subscribe handles POST /v1/subscriptions.
func (f *Forms) Subscribe(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := f.SubmitSignup(ctx, visit(r), in); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusAccepted, map[string]string{"status": "pending_confirmation"}, "newsletter.pending"), nil
}

// ConfirmPage handles GET /v1/subscriptions/confirm: a page with one
// button. It changes nothing, since mail scanners follow links.
func (f *Forms) ConfirmPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	tok := httpapi.Query(r, "token")
	sentence, err := f.CheckLink(ctx, tok)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "confirm", URL: httpapi.SelfLink(r), Quote: sentence}), nil
}

// Confirm handles POST /v1/subscriptions/confirm.
func (f *Forms) Confirm(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := f.ConfirmSignup(ctx, visit(r), httpapi.Query(r, "token")); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"status": "confirmed"}, "confirmed"), nil
}

// Health handles GET /v1/health: 200 when the table can be reached.
func (f *Forms) Health(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := f.Ping(ctx); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"status": "ok"}), nil
}

// Center handles GET /privacy: the privacy center, its three forms empty.
func (f *Forms) Center(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c := web.NewCenter(pages.Lang(r).Code)
	c.GPC = httpapi.GPC(r)
	return pages.Center(r, http.StatusOK, c), nil
}

// Asset handles GET /privacy/assets/{name}: the embedded stylesheet and
// script, cacheable for a day.
func Asset(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	b, ct, ok := web.Asset(r.Params["name"])
	if !ok {
		return httpapi.Response{}, httpapi.ErrNotFound
	}
	return httpapi.Response{StatusCode: http.StatusOK, Body: string(b), Headers: map[string]string{
		"Content-Type": ct, "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}}, nil
}
