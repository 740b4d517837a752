package rights

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// The team asks a requester for more (Desk.Ask); the requester answers by
// the link of the question's email: GET shows the question and a form,
// changing nothing; POST records the answer on the request, the ledger
// records information_provided, and the request returns to the team in
// the status it was asked in (the team is emailed). The link answers only
// its own request and question, once.

// ErrNotWaiting is a link whose question is no longer asked: answered
// already, replaced by a later question, or the request decided meanwhile.
var ErrNotWaiting = errors.New("no question waits for this answer")

// Question is the request whose question an answer link l was sent for,
// while it is still asked. It changes nothing.
func (h *Handlers) Question(ctx context.Context, l Link) (privacy.RightsRequest, error) {
	req, _, err := h.asked(ctx, l)
	return req, err
}

// asked checks an answer link: the token of the request in the path, for
// the person it names, and the question it was sent for still asked.
func (h *Handlers) asked(ctx context.Context, l Link) (privacy.RightsRequest, string, error) {
	c, id, err := h.check(l, token.AnswerQuestion)
	if err != nil {
		return privacy.RightsRequest{}, "", err
	}
	nonce, ok := strings.CutPrefix(c.Ref, id+":")
	if !ok || nonce == "" {
		return privacy.RightsRequest{}, "", ErrInvalidLink
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && req.Subject != c.Subject {
		// Gone, or minted before the person's address moved.
		return privacy.RightsRequest{}, "", ErrInvalidLink
	}
	if err != nil {
		return privacy.RightsRequest{}, "", fmt.Errorf("answer: %w", err)
	}
	if req.Status != privacy.RequestWaitingForInformation || req.AskNonce != nonce || req.AnswerTo() == "" {
		// Answered, asked anew, decided, or its address erased since (the
		// person's erasure strips their other requests): nothing to answer.
		return privacy.RightsRequest{}, "", ErrNotWaiting
	}
	return req, nonce, nil
}

// Answer records text (privacy.ParseAnswer's) as the answer to the
// question of link l, under policyVersion, and returns the status the
// request returns to the team in. A second answer, or one to a question
// no longer asked, is ErrNotWaiting and changes nothing.
func (h *Handlers) Answer(ctx context.Context, l Link, text, policyVersion string) (privacy.Status, error) {
	req, nonce, err := h.asked(ctx, l)
	if err != nil {
		return "", err
	}
	back := req.AskedFrom
	if back == "" {
		back = privacy.RequestAwaitingReview
	}
	err = h.Store.Transition(ctx, req.ID, privacy.Transition{Step: privacy.StepAnswer, Status: back,
		MailDue: privacy.Due(privacy.MailAnswered, nonce), Answer: privacy.Answer{Text: text, Nonce: nonce}},
		privacy.Event{Subject: req.Subject, Name: privacy.EventInformationProvided, At: h.Now().UTC(), Ref: req.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion})
	if errors.Is(err, privacy.ErrStale) {
		// Answered, or decided, in the meantime.
		return "", ErrNotWaiting
	}
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	h.Log.InfoContext(ctx, "requester answered the team's question", "rights_request_id", req.ID, "status", back)
	return back, nil
}
