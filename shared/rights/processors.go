package rights

import (
	"context"
	"errors"
	"fmt"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// A processor without an API (registered by its contact address) is
// emailed each request it is told of (GDPR Art. 19) with a link that
// confirms it done: the link names the request in its path and its token,
// and the processor in its path and the token's subject, so the link of
// one request or processor confirms no other.

// ProcessorLink is a processor's confirmation link: the request and the
// processor its path names, and its token.
type ProcessorLink struct{ ID, Processor, Token string }

// CheckProcessor checks a processor's confirmation link l. It changes
// nothing and says nothing of the request.
func (h *Handlers) CheckProcessor(l ProcessorLink) error {
	c, _, err := h.check(Link{ID: l.ID, Token: l.Token}, token.ConfirmProcessor)
	if err != nil || c.Ref != l.ID || c.Subject != links.ProcessorSubject(l.ID, l.Processor) {
		return ErrInvalidLink
	}
	return nil
}

// ConfirmProcessor records that the processor of l did what it was told
// of l's request. Confirming again is a no-op; a link of no delivery by
// email (the request or the registration gone) is ErrInvalidLink.
func (h *Handlers) ConfirmProcessor(ctx context.Context, l ProcessorLink, policyVersion string) error {
	if err := h.CheckProcessor(l); err != nil {
		return err
	}
	req, err := h.Store.Request(ctx, l.ID)
	if errors.Is(err, privacy.ErrNotFound) {
		return ErrInvalidLink
	}
	if err != nil {
		return fmt.Errorf("confirm processor: %w", err)
	}
	e := privacy.Event{Subject: req.Subject, Name: "processor_confirmed", At: h.Now().UTC(), Ref: req.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion, Detail: map[string]string{"processor_id": l.Processor}}
	if err := h.Store.ConfirmDelivery(ctx, l.ID, l.Processor, e); errors.Is(err, privacy.ErrNotFound) {
		return ErrInvalidLink
	} else if err != nil {
		return fmt.Errorf("confirm processor: %w", err)
	}
	h.Log.InfoContext(ctx, "processor confirmed", "rights_request_id", req.ID, "processor_id", l.Processor)
	return nil
}
