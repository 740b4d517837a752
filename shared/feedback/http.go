package feedback

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/sns"
)

// HTTPBody handles one message posted by SNS to an HTTPS endpoint and
// returns the status to answer.
func (h *Handler) HTTPBody(ctx context.Context, body []byte) int {
	var m sns.Message
	if err := json.Unmarshal(body, &m); err != nil {
		return http.StatusBadRequest
	}
	out, err := h.message(ctx, m, true)
	switch {
	case err != nil:
		return http.StatusServiceUnavailable // SNS retries
	case out == Rejected:
		return http.StatusForbidden
	}
	return http.StatusOK
}

// Invoke is the Lambda entry point: an SNS subscription's event, or an API
// Gateway request from an HTTPS subscription (which SNS first asks to
// confirm).
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RouteKey string `json:"routeKey"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("unreadable event: %w", err)
	}
	if probe.RouteKey == "" {
		var ev sns.LambdaEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("unreadable SNS event: %w", err)
		}
		return nil, h.Lambda(ctx, ev)
	}
	var r httpapi.Request
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("unreadable HTTP event: %w", err)
	}
	ctx = lambdalog.WithRequestID(ctx, r.RequestContext.RequestID)
	body, err := httpapi.Body(r)
	if err != nil {
		return httpapi.Response{StatusCode: http.StatusRequestEntityTooLarge}, nil
	}
	return httpapi.Response{StatusCode: h.HTTPBody(ctx, body)}, nil
}
