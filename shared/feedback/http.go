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

// Serve answers a message SNS posted to an HTTPS subscription (which SNS
// first asks to confirm), as API Gateway delivers it.
func (h *Handler) Serve(ctx context.Context, r httpapi.Request) httpapi.Response {
	ctx = lambdalog.WithRequestID(ctx, r.RequestID)
	body, err := httpapi.Body(r)
	if err != nil {
		return httpapi.Response{StatusCode: http.StatusRequestEntityTooLarge}
	}
	return httpapi.Response{StatusCode: h.HTTPBody(ctx, body)}
}

// SNS handles an SNS subscription's event. The function takes both
// (apigw.HTTPOr tells an HTTP request from it).
func (h *Handler) SNS(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev sns.LambdaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("unreadable SNS event: %w", err)
	}
	return nil, h.Lambda(ctx, ev)
}
