package rights

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// An address a request names besides the person's confirms it by a link
// sent to it, before anything depends on it: an agent is told nothing of
// the person until they confirmed theirs; a correction's new address must
// confirm before the team may move the person's data to it, and the old
// address is then told, with a link that stops the change.

// ErrTooLate is a stop of a change the team has already decided.
var ErrTooLate = errors.New("the change is decided: too late to stop it")

// AddressRole is the role (links.AddressAgent, links.AddressNew) of the
// address a confirmation link l went to. It changes nothing.
func (h *Handlers) AddressRole(l Link) (string, error) {
	c, id, err := h.check(l, token.ConfirmAddress)
	return strings.TrimPrefix(c.Ref, id+":"), err
}

// ConfirmAddress confirms the address the link l went to, under
// policyVersion. Confirming again is a no-op.
func (h *Handlers) ConfirmAddress(ctx context.Context, l Link, policyVersion string) error {
	c, id, err := h.check(l, token.ConfirmAddress)
	if err != nil {
		return err
	}
	which := strings.TrimPrefix(c.Ref, id+":")
	if req, err := h.Store.Request(ctx, id); err != nil || req.Subject != c.Subject {
		// Gone, or minted before the person's address moved.
		return ErrInvalidLink
	}
	e := privacy.Event{Subject: c.Subject, At: h.Now().UTC(), Ref: id, LegalBasis: privacy.BasisLegalObligation,
		PolicyVersion: policyVersion}
	switch which {
	case links.AddressAgent:
		e.Name = "agent_address_confirmed"
		err = h.Store.ConfirmAgent(ctx, id, e)
	case links.AddressNew:
		e.Name = "new_address_confirmed"
		err = h.Store.ConfirmNewAddress(ctx, id, h.nonce(), e)
	default:
		return ErrInvalidLink
	}
	if errors.Is(err, privacy.ErrNotFound) || errors.Is(err, privacy.ErrStale) {
		return ErrInvalidLink
	}
	if err != nil {
		return fmt.Errorf("confirm address: %w", err)
	}
	h.Log.InfoContext(ctx, "address confirmed", "rights_request_id", id, "role", which)
	return nil
}

// CheckStop checks a stop link l. It changes nothing.
func (h *Handlers) CheckStop(l Link) error {
	_, _, err := h.check(l, token.StopChange)
	return err
}

// Stop is the old address stopping, by the link l, a correction of the
// address the team has not applied yet: the request is cancelled and
// nothing moves. Stopping again is a no-op; a change decided is
// ErrTooLate.
func (h *Handlers) Stop(ctx context.Context, l Link, policyVersion string) error {
	c, id, err := h.check(l, token.StopChange)
	if err != nil {
		return err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && (!req.ChangesAddress() || req.Subject != c.Subject) {
		return ErrInvalidLink
	}
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if req.Status == privacy.RequestCancelled {
		return nil
	}
	// Undecided: with the team, or waiting on the requester's answer.
	err = h.Store.Transition(ctx, id, privacy.Transition{Step: privacy.StepStop,
		Status: privacy.RequestCancelled, MailDue: privacy.Due(privacy.MailStopped, h.nonce()), By: "requester"},
		privacy.Event{Subject: c.Subject, Name: privacy.EventCorrectionStopped, At: h.Now().UTC(), Ref: id,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion})
	if errors.Is(err, privacy.ErrStale) {
		// The team applied it already (or denied it): too late to stop.
		return ErrTooLate
	}
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	h.Log.InfoContext(ctx, "address change stopped by the old address", "rights_request_id", id)
	return nil
}
