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

// ErrContactChanged is a processor's confirmation link minted before the
// team changed that processor's contact address (its old inbox may have
// changed hands): it confirms nothing, and the delivery stays the team's
// to follow up at the current address (overdue on the deadline board and
// in the digest once its days to confirm have passed).
var ErrContactChanged = errors.New("processor contact changed since the link was sent")

// CheckProcessor checks a processor's confirmation link l: genuine, and
// minted after the processor's contact address last changed
// (ErrContactChanged otherwise). It changes nothing and says nothing of
// the request.
func (h *Handlers) CheckProcessor(ctx context.Context, l ProcessorLink) error {
	c, _, err := h.check(Link{ID: l.ID, Token: l.Token}, token.ConfirmProcessor)
	if err != nil || c.Ref != l.ID || c.Subject != links.ProcessorSubject(l.ID, l.Processor) {
		return ErrInvalidLink
	}
	changed, err := h.Store.ProcessorContactChangedAt(ctx, l.Processor)
	if err != nil {
		return fmt.Errorf("check processor link: %w", err)
	}
	if !changed.IsZero() && links.ProcessorMintedBefore(c, changed) {
		return ErrContactChanged
	}
	return nil
}

// ConfirmProcessor records that the processor of l did what it was told
// of l's request. Confirming again is a no-op; a link of no delivery by
// email (the request or the registration gone) is ErrInvalidLink.
func (h *Handlers) ConfirmProcessor(ctx context.Context, l ProcessorLink, policyVersion string) error {
	if err := h.CheckProcessor(ctx, l); err != nil {
		if errors.Is(err, ErrContactChanged) {
			h.Log.InfoContext(ctx, "processor link refused: contact changed since", "rights_request_id", l.ID, "processor_id", l.Processor)
		}
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
