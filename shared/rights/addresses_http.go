package rights

import (
	"context"
	"net/http"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// addressPage handles GET …/address: one button, nothing changes (mail
// scanners follow links).
func (h *Handlers) addressPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	role, err := h.AddressRole(linkOf(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	key := "address.new"
	if role == links.AddressAgent {
		key = "address.agent"
	}
	return pages.ActionPage(r, pages.Action{Key: key, URL: httpapi.SelfLink(r)}), nil
}

// address handles POST …/address: ConfirmAddress.
func (h *Handlers) address(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	l := linkOf(r)
	if err := h.ConfirmAddress(ctx, l, r.Site.PolicyVersion); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"id": l.ID, "status": "address_confirmed"}, "address.confirmed"), nil
}

// stopPage handles GET …/stop: one button, nothing changes.
func (h *Handlers) stopPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := h.CheckStop(linkOf(r)); err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "stop", URL: httpapi.SelfLink(r)}), nil
}

// stop handles POST …/stop: Stop.
func (h *Handlers) stop(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	l := linkOf(r)
	if err := h.Stop(ctx, l, r.Site.PolicyVersion); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"id": l.ID, "status": string(privacy.RequestCancelled)}, "stopped"), nil
}

// processorLinkOf is the processor's confirmation link a request came by.
func processorLinkOf(r httpapi.Request) ProcessorLink {
	return ProcessorLink{ID: r.Params["id"], Processor: r.Params["processor"], Token: httpapi.Query(r, "token")}
}

// processorPage handles GET …/processors/{processor}/confirm: one button,
// nothing changes (mail scanners follow links), nothing of the request
// or the person shown.
func (h *Handlers) processorPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := h.CheckProcessor(ctx, processorLinkOf(r)); err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "processor", URL: httpapi.SelfLink(r)}), nil
}

// processor handles POST …/processors/{processor}/confirm: ConfirmProcessor.
func (h *Handlers) processor(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	l := processorLinkOf(r)
	if err := h.ConfirmProcessor(ctx, l, r.Site.PolicyVersion); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"status": privacy.RecipientCompleted}, "processor.confirmed"), nil
}
