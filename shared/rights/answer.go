package rights

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// The team asks a requester for more (Desk.Ask); the requester answers by
// the link of the question's email: GET shows the question and a form,
// changing nothing; POST records the answer on the request, the ledger
// records information_provided, and the request returns to the team in
// the status it was asked in (the team is emailed). The link answers only
// its own request and question, once.

// errNotWaiting answers a link whose question is no longer asked: answered
// already, replaced by a later question, or the request decided meanwhile.
var errNotWaiting = &httpapi.Error{Status: http.StatusConflict, Code: "not_waiting",
	Message: "This question has already been answered, or our privacy team no longer waits for an answer. Nothing was changed. Reply to our email to reach them."}

// asked checks an answer link: the token of the request in the path, for
// the person it names, and the question it was sent for still asked.
func (h *Handlers) asked(ctx context.Context, r httpapi.Request) (privacy.RightsRequest, string, error) {
	c, id, err := h.check(r, token.AnswerQuestion)
	if err != nil {
		return privacy.RightsRequest{}, "", err
	}
	nonce, ok := strings.CutPrefix(c.Ref, id+":")
	if !ok || nonce == "" {
		return privacy.RightsRequest{}, "", httpapi.ErrInvalidToken
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && req.Subject != c.Subject {
		// Gone, or minted before the person's address moved.
		return privacy.RightsRequest{}, "", httpapi.ErrInvalidToken
	}
	if err != nil {
		return privacy.RightsRequest{}, "", fmt.Errorf("answer: %w", err)
	}
	if req.Status != privacy.RequestWaitingForInformation || req.AskNonce != nonce || req.AnswerTo() == "" {
		// Answered, asked anew, decided, or its address erased since (the
		// person's erasure strips their other requests): nothing to answer.
		return privacy.RightsRequest{}, "", errNotWaiting
	}
	return req, nonce, nil
}

// answerPage draws the question and the answer's form; form holds what
// was sent and its errors when a plain post is drawn again.
func answerPage(r httpapi.Request, req privacy.RightsRequest, status int, form web.Form) httpapi.Response {
	l := pages.Lang(r)
	deadline := l.T("answer.deadline", httpapi.Deadline(req.DueAt)[:10])
	if req.Regulation == privacy.RegulationGDPR {
		deadline += " " + l.T("answer.deadline_gdpr")
	}
	return pages.View(r, status, l.T("answer.title"), "answer", struct {
		Question, URL, Deadline string
		Form                    web.Form
	}{req.Question, r.RawPath + "?token=" + url.QueryEscape(httpapi.Query(r, "token")), deadline, form})
}

// AnswerPage handles GET …/answer: the team's question and a form; nothing
// changes (mail scanners follow links).
func (h *Handlers) AnswerPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	req, _, err := h.asked(ctx, r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return answerPage(r, req, http.StatusOK, web.Form{}), nil
}

// Answer handles POST …/answer: the answer is recorded and the request
// returns to the team. A second answer, or one to a question no longer
// asked, is refused (409) and changes nothing.
func (h *Handlers) Answer(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	req, nonce, err := h.asked(ctx, r)
	if err != nil {
		return httpapi.Response{}, err
	}
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	text, err := privacy.ParseAnswer(in)
	if v, ok := privacy.AsValidation(err); ok {
		if httpapi.WantsHTML(r) {
			return answerPage(r, req, http.StatusBadRequest, web.Form{Values: map[string][]string{"answer": {text}},
				Errors: pages.Lang(r).Fields(v.Fields), Focus: true}), nil
		}
		return httpapi.Response{}, httpapi.Validation(v)
	}
	meta := httpapi.Meta(r, h.Now())
	back := req.AskedFrom
	if back == "" {
		back = privacy.RequestAwaitingReview
	}
	err = h.Store.Transition(ctx, req.ID, privacy.Transition{From: []string{privacy.RequestWaitingForInformation}, Status: back,
		MailDue: privacy.Due(privacy.MailAnswered, nonce), Answer: privacy.Answer{Text: text, Nonce: nonce}},
		privacy.Event{Subject: req.Subject, Name: "information_provided", At: meta.ReceivedAt, Ref: req.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion})
	if errors.Is(err, privacy.ErrStale) {
		// Answered, or decided, in the meantime.
		return httpapi.Response{}, errNotWaiting
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("answer: %w", err)
	}
	h.Log.InfoContext(ctx, "requester answered the team's question", "rights_request_id", req.ID, "status", back)
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "answered"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": req.ID, "status": back}), nil
}
