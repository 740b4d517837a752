package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// RouteIAM is the route privacyctl calls, signed with the caller's AWS
// credentials (SigV4); API Gateway's IAM authorizer admits only callers
// whose policy allows execute-api:Invoke on it.
const RouteIAM = "POST /v1/operator"

// Routes registers the operator's routes.
func (o *Operator) Routes(rt *httpapi.Router) { rt.Handle(RouteIAM, o.serveIAM) }

// serveIAM runs one action for the IAM caller API Gateway authorised: its
// ARN is who acts. A request without one (a route left without its
// authorizer) is refused, never run as nobody.
func (o *Operator) serveIAM(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	var by string
	if a := r.RequestContext.Authorizer; a != nil && a.IAM != nil {
		by = a.IAM.UserARN
	}
	if by == "" {
		return httpapi.Response{}, &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "Sign the request with AWS credentials (SigV4)."}
	}
	body, err := httpapi.Body(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return httpapi.Response{}, httpapi.ErrMalformed
	}
	res, err := o.Do(ctx, Caller{By: by, MayDecide: true}, req)
	if err != nil {
		return httpapi.Response{}, Problem(err)
	}
	return httpapi.JSON(http.StatusOK, res), nil
}

// Problem is err as the contract answers it: the caller's mistakes with
// their status and message (the team reads them), anything else as it is
// (the router logs it and answers 503).
func Problem(err error) error {
	status, code := 0, ""
	switch {
	case errors.Is(err, ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrBadRequest), errors.Is(err, rights.ErrReasonRequired), errors.Is(err, rights.ErrOutOfRange),
		errors.Is(err, rights.ErrBadText):
		status, code = http.StatusBadRequest, "bad_request"
	case errors.Is(err, privacy.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, rights.ErrWrongStatus), errors.Is(err, privacy.ErrExists):
		status, code = http.StatusConflict, "conflict"
	default:
		return err
	}
	return &httpapi.Error{Status: status, Code: code, Message: err.Error()}
}
