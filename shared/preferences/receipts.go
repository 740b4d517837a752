package preferences

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// Keys reads the receipt keys the mailer published.
type Keys interface {
	PublishedKeys(ctx context.Context) ([]privacy.PublishedKey, error)
}

// Receipts serves the keys that sign receipts and tells anyone whether a
// receipt is genuine. It holds no key that signs: only the published
// public halves.
type Receipts struct {
	Keys Keys
	Log  *slog.Logger
}

// MaxReceipt is the longest receipt the verify route reads.
const MaxReceipt = 16 << 10

// ReceiptRoutes registers the receipts' routes.
func (h *Receipts) ReceiptRoutes(rt *httpapi.Router) {
	rt.Handle("GET /.well-known/jwks.json", h.JWKS)
	rt.Handle("GET /v1/receipts/verify", h.Verify)
	rt.Handle("POST /v1/receipts/verify", h.Verify)
}

func (h *Receipts) keySet(ctx context.Context) (receipt.JWKS, error) {
	published, err := h.Keys.PublishedKeys(ctx)
	if err != nil {
		return receipt.JWKS{}, err
	}
	return receipt.KeySet(published)
}

// JWKS handles GET /.well-known/jwks.json: every receipt key ever
// published, so a receipt signed before a rotation still checks.
func (h *Receipts) JWKS(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	set, err := h.keySet(ctx)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("jwks: %w", err)
	}
	resp := httpapi.JSON(http.StatusOK, set)
	resp.Headers["Content-Type"] = "application/jwk-set+json"
	resp.Headers["Cache-Control"] = "public, max-age=300"
	return resp, nil
}

// verdict is the verify route's JSON answer.
type verdict struct {
	Valid   bool             `json:"valid"`
	Reason  string           `json:"reason,omitempty"`
	KeyID   string           `json:"kid,omitempty"`
	Receipt *receipt.Receipt `json:"receipt,omitempty"`
}

// Verify handles GET and POST /v1/receipts/verify: the receipt pasted (a
// form field or JSON "receipt", or the query's receipt) is checked against
// the published keys. A genuine one is answered with what it says; one
// changed or not ours with why not (200 both); text that is no receipt is
// a 400. A GET without a receipt is the page to paste one into.
func (h *Receipts) Verify(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	jws := httpapi.Query(r, "receipt")
	if r.RequestContext.HTTP.Method == http.MethodPost {
		in, err := httpapi.DecodeInput(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		errs := privacy.FieldErrors{}
		jws = in.String(errs, "receipt")
		if err := errs.Err(); err != nil {
			v, _ := privacy.AsValidation(err)
			return httpapi.Response{}, httpapi.Validation(v)
		}
	}
	jws = strings.Join(strings.Fields(jws), "") // a receipt pasted from an email may wrap
	html := httpapi.WantsHTML(r)
	switch {
	case jws == "" && html && r.RequestContext.HTTP.Method == http.MethodGet:
		return h.page(r, http.StatusOK, "", nil, nil), nil
	case jws == "":
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{Fields: privacy.FieldErrors{"receipt": privacy.Fault(privacy.FieldReceiptMissing)}})
	case len(jws) > MaxReceipt:
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{Fields: privacy.FieldErrors{"receipt": privacy.Fault(privacy.FieldReceiptTooLong)}})
	}
	set, err := h.keySet(ctx)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify receipt: %w", err)
	}
	rc, key, err := receipt.Verify(jws, set.Keys)
	switch {
	case errors.Is(err, receipt.ErrMalformed):
		if html {
			return h.page(r, http.StatusBadRequest, jws, nil, err), nil
		}
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{Fields: privacy.FieldErrors{"receipt": privacy.Fault(privacy.FieldReceiptMalformed)}})
	case err != nil:
		h.Log.InfoContext(ctx, "receipt not genuine", "reason", err.Error())
		if html {
			return h.page(r, http.StatusOK, jws, nil, err), nil
		}
		return httpapi.JSON(http.StatusOK, verdict{Reason: err.Error()}), nil
	}
	h.Log.InfoContext(ctx, "receipt genuine", "kid", key.Kid, "event", rc.Event)
	if html {
		return h.page(r, http.StatusOK, jws, &rc, nil), nil
	}
	return httpapi.JSON(http.StatusOK, verdict{Valid: true, KeyID: key.Kid, Receipt: &rc}), nil
}

// receiptView is the verify page's data.
type receiptView struct {
	Pasted  string
	Checked bool
	Valid   bool
	Problem string
	R       *receipt.Receipt
	When    string
	Items   []string
}

func (h *Receipts) page(r httpapi.Request, status int, pasted string, rc *receipt.Receipt, problem error) httpapi.Response {
	l := pages.Lang(r)
	v := receiptView{Pasted: pasted, Checked: pasted != "", Valid: rc != nil, R: rc}
	switch {
	case errors.Is(problem, receipt.ErrMalformed):
		v.Problem = l.T("receipt.malformed")
	case errors.Is(problem, receipt.ErrUnknownKey):
		v.Problem = l.T("receipt.unknown_key")
	case problem != nil:
		v.Problem = l.T("receipt.changed")
	}
	if rc != nil {
		v.When = httpapi.Time(time.Unix(rc.Timestamp, 0))
		for _, s := range rc.Services {
			v.Items = append(v.Items, s.Service)
		}
		if rc.Erasure != nil {
			v.Items = append(v.Items, rc.Erasure.Erased...)
		}
	}
	return pages.View(r, status, l.T("receipt.title"), "receipt", v)
}
