package preferences

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// ReceiptRoutes registers the receipts' routes.
func (h *Receipts) ReceiptRoutes(rt *httpapi.Router) {
	rt.Handle("GET /.well-known/jwks.json", h.jwks)
	rt.Handle("GET /v1/receipts/verify", h.verify)
	rt.Handle("POST /v1/receipts/verify", h.verify)
}

// jwks answers GET /.well-known/jwks.json: KeySet.
func (h *Receipts) jwks(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	set, err := h.KeySet(ctx)
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

// verify answers GET and POST /v1/receipts/verify: the receipt pasted (a
// form field or JSON "receipt", or the query's receipt) is checked
// (Check). A genuine one is answered with what it says; one changed or not
// ours with why not (200 both); text that is no receipt is a 400. A GET
// without a receipt is the page to paste one into.
func (h *Receipts) verify(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	jws := httpapi.Query(r, "receipt")
	if r.Method == http.MethodPost {
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
	fault := func(code privacy.FieldCode) error {
		return httpapi.Validation(&privacy.ValidationError{Fields: privacy.FieldErrors{"receipt": privacy.Fault(code)}})
	}
	switch {
	case jws == "" && html && r.Method == http.MethodGet:
		return page(r, http.StatusOK, "", Verdict{}), nil
	case jws == "":
		return httpapi.Response{}, fault(privacy.FieldReceiptMissing)
	case len(jws) > MaxReceipt:
		return httpapi.Response{}, fault(privacy.FieldReceiptTooLong)
	}
	v, err := h.Check(ctx, jws)
	switch {
	case err != nil:
		return httpapi.Response{}, err
	case html && errors.Is(v.Problem, receipt.ErrMalformed):
		return page(r, http.StatusBadRequest, jws, v), nil
	case html:
		return page(r, http.StatusOK, jws, v), nil
	case errors.Is(v.Problem, receipt.ErrMalformed):
		return httpapi.Response{}, fault(privacy.FieldReceiptMalformed)
	case v.Problem != nil:
		return httpapi.JSON(http.StatusOK, verdict{Reason: v.Problem.Error()}), nil
	}
	return httpapi.JSON(http.StatusOK, verdict{Valid: true, KeyID: v.Key.Kid, Receipt: v.Receipt}), nil
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

func page(r httpapi.Request, status int, pasted string, vd Verdict) httpapi.Response {
	l := pages.Lang(r)
	rc := vd.Receipt
	v := receiptView{Pasted: pasted, Checked: pasted != "", Valid: rc != nil, R: rc}
	switch {
	case errors.Is(vd.Problem, receipt.ErrMalformed):
		v.Problem = l.T("receipt.malformed")
	case errors.Is(vd.Problem, receipt.ErrUnknownKey):
		v.Problem = l.T("receipt.unknown_key")
	case vd.Problem != nil:
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
