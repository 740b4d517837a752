package rights

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// An address a request names besides the person's confirms it by a link
// sent to it, before anything depends on it: an agent is told nothing of
// the person until they confirmed theirs; a correction's new address must
// confirm before the team may move the person's data to it, and the old
// address is then told, with a link that stops the change.

// AddressPage handles GET …/address: one button, nothing changes (mail
// scanners follow links).
func (h *Handlers) AddressPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, _, err := h.check(r, token.ConfirmAddress)
	if err != nil {
		return httpapi.Response{}, err
	}
	key := "address.new"
	if strings.HasSuffix(c.Ref, ":"+links.AddressAgent) {
		key = "address.agent"
	}
	return pages.ActionPage(r, pages.Action{Key: key, URL: r.RawPath + "?token=" + httpapi.Query(r, "token")}), nil
}

// Address handles POST …/address: the address the link went to is
// confirmed. Confirming again is a no-op.
func (h *Handlers) Address(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, id, err := h.check(r, token.ConfirmAddress)
	if err != nil {
		return httpapi.Response{}, err
	}
	meta := httpapi.Meta(r, h.Now())
	which := strings.TrimPrefix(c.Ref, id+":")
	if req, err := h.Store.Request(ctx, id); err != nil || req.Subject != c.Subject {
		// Gone, or minted before the person's address moved.
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	e := privacy.Event{Subject: c.Subject, At: meta.ReceivedAt, Ref: id, LegalBasis: privacy.BasisLegalObligation,
		PolicyVersion: r.Site.PolicyVersion}
	switch which {
	case links.AddressAgent:
		e.Name = "agent_address_confirmed"
		err = h.Store.ConfirmAgent(ctx, id, e)
	case links.AddressNew:
		e.Name = "new_address_confirmed"
		err = h.Store.ConfirmNewAddress(ctx, id, h.nonce(), e)
	default:
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if errors.Is(err, privacy.ErrNotFound) || errors.Is(err, privacy.ErrStale) {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("confirm address: %w", err)
	}
	h.Log.InfoContext(ctx, "address confirmed", "rights_request_id", id, "role", which)
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "address.confirmed"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": id, "status": "address_confirmed"}), nil
}

// StopPage handles GET …/stop: one button, nothing changes.
func (h *Handlers) StopPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if _, _, err := h.check(r, token.StopChange); err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "stop", URL: r.RawPath + "?token=" + httpapi.Query(r, "token")}), nil
}

// Stop handles POST …/stop: the old address stops a correction of the
// address the team has not applied yet; the request is cancelled and
// nothing moves. Stopping again is a no-op.
func (h *Handlers) Stop(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, id, err := h.check(r, token.StopChange)
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && (!req.ChangesAddress() || req.Subject != c.Subject) {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("stop: %w", err)
	}
	meta := httpapi.Meta(r, h.Now())
	if req.Status != privacy.RequestCancelled {
		// Undecided: with the team, or waiting on the requester's answer.
		err = h.Store.Transition(ctx, id, privacy.Transition{From: []string{privacy.RequestAwaitingReview, privacy.RequestWaitingForInformation},
			Status: privacy.RequestCancelled, MailDue: privacy.Due(privacy.MailStopped, h.nonce()), By: "requester"},
			privacy.Event{Subject: c.Subject, Name: "correction_stopped", At: meta.ReceivedAt, Ref: id,
				LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion})
		if errors.Is(err, privacy.ErrStale) {
			// The team applied it already (or denied it): too late to stop.
			return httpapi.Response{}, &httpapi.Error{Status: http.StatusConflict, Code: "too_late",
				Message: "This change can no longer be stopped: our privacy team has already decided it. Reply to our email to reach them."}
		}
		if err != nil {
			return httpapi.Response{}, fmt.Errorf("stop: %w", err)
		}
		h.Log.InfoContext(ctx, "address change stopped by the old address", "rights_request_id", id)
	}
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "stopped"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": id, "status": privacy.RequestCancelled}), nil
}
