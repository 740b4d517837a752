package rights

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Routes registers the handlers under the template's route keys; rd reads
// what exports contain. Every route answers the service's errors as the
// contract does (problem).
func (h *Handlers) Routes(rt *httpapi.Router, rd Reader, company string) {
	rt.Routes(problem, map[string]httpapi.HandlerFunc{
		"GET /v1/rights-requests/{id}/export":                          h.serveExport(rd, company),
		"POST /v1/rights-requests":                                     h.file,
		"GET /v1/rights-requests/{id}":                                 h.status,
		"GET /v1/rights-requests/{id}/verify":                          h.verifyPage,
		"POST /v1/rights-requests/{id}/verify":                         h.verify,
		"GET /v1/rights-requests/{id}/address":                         h.addressPage,
		"POST /v1/rights-requests/{id}/address":                        h.address,
		"GET /v1/rights-requests/{id}/stop":                            h.stopPage,
		"POST /v1/rights-requests/{id}/stop":                           h.stop,
		"GET /v1/rights-requests/{id}/answer":                          h.answerPage,
		"POST /v1/rights-requests/{id}/answer":                         h.answer,
		"GET /v1/rights-requests/{id}/processors/{processor}/confirm":  h.processorPage,
		"POST /v1/rights-requests/{id}/processors/{processor}/confirm": h.processor,
	})
}

// problem is err as the contract answers it; any other error is a
// dependency's (the router answers 503).
func problem(err error) error {
	var limited *RateLimited
	switch {
	case errors.Is(err, ErrInvalidLink):
		return httpapi.ErrInvalidToken
	case errors.Is(err, ErrNoRequest):
		return httpapi.ErrNotFound
	case errors.Is(err, ErrContactChanged):
		return &httpapi.Error{Status: http.StatusGone, Code: "contact_changed",
			Message: "This link was sent to an address that is no longer this processor's privacy contact. Nothing was changed: our privacy team will ask the current contact."}
	case errors.Is(err, ErrNotWaiting):
		return &httpapi.Error{Status: http.StatusConflict, Code: "not_waiting",
			Message: "This question has already been answered, or our privacy team no longer waits for an answer. Nothing was changed. Reply to our email to reach them."}
	case errors.Is(err, ErrLinkExpired):
		return &httpapi.Error{Status: http.StatusGone, Code: "gone",
			Message: "This download link has expired (links work for 7 days). Make a new access request to get a fresh copy."}
	case errors.Is(err, ErrTooLate):
		return &httpapi.Error{Status: http.StatusConflict, Code: "too_late",
			Message: "This change can no longer be stopped: our privacy team has already decided it. Reply to our email to reach them."}
	case errors.As(err, &limited):
		return httpapi.RateLimited(limited.RetryAfter)
	}
	return err
}

// linkOf is the link a request came by: the request in its path, its token.
func linkOf(r httpapi.Request) Link {
	return Link{ID: r.Params["id"], Token: httpapi.Query(r, "token")}
}

// file handles POST /v1/rights-requests.
func (h *Handlers) file(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	fl := Filing{Lang: pages.Lang(r).Code, From: httpapi.Meta(r, h.Now()), PolicyVersion: r.Site.PolicyVersion}
	if fl.Decoy = in.Honeypot(); fl.Decoy {
		fl.Form = privacy.RightsRequestForm{Regulation: privacy.RegulationGDPR, Type: privacy.Right(in.String(privacy.FieldErrors{}, "type"))}
	} else if fl.Form, err = privacy.ParseRightsRequest(in); err != nil {
		if v, ok := privacy.AsValidation(err); ok {
			return httpapi.Response{}, httpapi.Validation(v)
		}
	}
	f, err := h.File(ctx, fl)
	if err != nil {
		return httpapi.Response{}, err
	}
	if httpapi.WantsHTML(r) {
		switch f.Status {
		case privacy.RequestCompleted:
			return pages.Message(r, http.StatusAccepted, "rights.opted_out", f.ID), nil
		case privacy.RequestRedirected:
			return pages.Message(r, http.StatusAccepted, "rights.redirected"), nil
		}
		return pages.Message(r, http.StatusAccepted, "rights.received", f.ID, httpapi.Deadline(f.DueAt)[:10]), nil
	}
	body := struct {
		ID      string `json:"id,omitempty"`
		Status  string `json:"status"`
		DueAt   string `json:"due_at,omitempty"`
		Message string `json:"message,omitempty"`
	}{f.ID, string(f.Status), httpapi.Deadline(f.DueAt), ""}
	if f.Status == privacy.RequestRedirected {
		body.Message = pages.Lang(r).T("rights.redirected.body")
	}
	return httpapi.JSON(http.StatusAccepted, body), nil
}

// verifyPage handles GET …/verify: one button, nothing changes. The person
// sees, plainly, what they confirm: the change a correction asks for, the
// agent who filed, who receives a copy of their data.
func (h *Handlers) verifyPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	req, err := h.ToVerify(ctx, linkOf(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	a, l := pages.Action{Key: "verify", URL: httpapi.SelfLink(r)}, pages.Lang(r)
	switch {
	case req.Correction.Field == privacy.FieldEmail:
		a.Key, a.Args = "verify.correction", []any{l.T("correction.field." + req.Correction.Field), req.Correction.Value}
	case req.Correction.Field != "":
		// A new name, company or phone is the filer's text: the field
		// alone, until the person verified.
		a.Key, a.Args = "verify.correction_field", []any{l.T("correction.field." + req.Correction.Field)}
	case req.AgentEmail != "":
		a.Key, a.Args = "verify.agent", []any{req.AgentEmail}
	case req.RecipientEmail != "":
		a.Key, a.Args = "verify.third_party", []any{req.RecipientEmail}
	}
	return pages.ActionPage(r, a), nil
}

// verify handles POST …/verify: the single-use link verifies the identity.
func (h *Handlers) verify(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	l := linkOf(r)
	status, err := h.Verify(ctx, l, httpapi.Meta(r, h.Now()), r.Site.PolicyVersion)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"id": l.ID, "status": string(status)}, "verified"), nil
}

type statusBody struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Scope         string `json:"scope,omitempty"`
	Status        string `json:"status"`
	ReceivedAt    string `json:"received_at"`
	DueAt         string `json:"due_at"`
	ExtendedUntil string `json:"extended_until,omitempty"`
	CompletedAt   string `json:"completed_at,omitempty"`
	Reason        string `json:"reason,omitempty"`
	ResultsURL    string `json:"results_url,omitempty"`
	// RecipientsTold are the processors told of the request (Art. 19).
	RecipientsTold []privacy.Told `json:"recipients_told,omitempty"`
}

// status handles GET /v1/rights-requests/{id}?token=S.
func (h *Handlers) status(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	req, err := h.Status(ctx, linkOf(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	body := statusBody{ID: req.ID, Type: string(req.Type), Scope: req.Scope, Status: string(req.Status), ReceivedAt: httpapi.Time(req.ReceivedAt),
		DueAt: httpapi.Deadline(req.DueAt), ExtendedUntil: httpapi.Deadline(req.ExtendedUntil),
		CompletedAt: httpapi.Time(req.CompletedAt), Reason: req.Reason, RecipientsTold: req.RecipientsTold()}
	if !req.OriginalDueAt.IsZero() {
		body.DueAt = httpapi.Deadline(req.OriginalDueAt) // the first deadline; extended_until is the current one
	}
	body.ResultsURL, _ = h.ResultsURL(req)
	if !httpapi.WantsHTML(r) {
		return httpapi.JSON(http.StatusOK, body), nil
	}
	statusKey := "status." + string(req.Status)
	if req.Status == privacy.RequestCompleted {
		statusKey = "status.completed_value"
	}
	day := func(ts string) string { return strings.SplitN(ts, "T", 2)[0] }
	return pages.View(r, http.StatusOK, pages.Lang(r).T("status.title", req.ID), "status", struct {
		Type, StatusKey, Received, Due, Extended, Completed, Reason, ResultsURL string
		Told                                                                    []privacy.Told
	}{body.Type, statusKey, day(body.ReceivedAt), day(body.DueAt), day(body.ExtendedUntil), day(body.CompletedAt),
		body.Reason, body.ResultsURL, body.RecipientsTold}), nil
}
