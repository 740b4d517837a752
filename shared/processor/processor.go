// Package processor is the OpenDSR (OpenGDPR) processor API: controllers
// that hand this system personal data send access, portability and erasure
// requests machine to machine (API.md "OpenDSR"). Requests are validated by
// shared/opendsr, stored as rights requests with source "opendsr", and
// fulfilled by the same rights.Fulfiller as the site's requests; every
// response is signed. Controllers authenticate with HTTP Basic credentials
// issued per controller (privacyctl opendsr-controller), each seeing only
// its own requests.
package processor

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Store is what the processor reads and writes.
type Store interface {
	LookupController(ctx context.Context, id string) (dynamo.Controller, error)
	CreateRequest(ctx context.Context, r dynamo.RightsRequest, e dynamo.Event) error
	Request(ctx context.Context, id string) (dynamo.RightsRequest, error)
	Transition(ctx context.Context, id string, t dynamo.Transition, e dynamo.Event) error
}

// Service holds the dependencies.
type Service struct {
	Store     Store
	Fulfiller *rights.Fulfiller
	Hasher    *privacy.Hasher
	Tokens    *token.Signer
	// Signer signs every response; without one (no key configured) every
	// route answers 503, since an unsigned answer is not one.
	Signer        *opendsr.Signer
	CertURL       string // processor_certificate in discovery
	BaseURL       string // for results_url
	PolicyVersion string
	Policy        opendsr.Policy
	Now           func() time.Time
	Log           *slog.Logger
}

// SecretHash is the stored form of a controller secret: a keyed hash,
// so a read of the ops table gives no credential.
func SecretHash(h *privacy.Hasher, secret string) string {
	return h.Pseudonym("opendsr-controller", secret)
}

// Routes registers both generations' routes.
func (s *Service) Routes(rt *httpapi.Router) {
	for _, v := range []struct {
		v    opendsr.Version
		base string
	}{{opendsr.V1, "/opendsr/v1/opengdpr_requests"}, {opendsr.V2, "/opendsr/v2/requests"}} {
		v := v
		rt.Handle(fmt.Sprintf("GET /opendsr/v%d/discovery", v.v), s.handle(v.v, false, s.discovery))
		rt.Handle("POST "+v.base, s.handle(v.v, true, s.create))
		rt.Handle("GET "+v.base+"/{id}", s.handle(v.v, true, s.status))
		rt.Handle("DELETE "+v.base+"/{id}", s.handle(v.v, true, s.cancel))
	}
}

// call is one authenticated call.
type call struct {
	r          httpapi.Request
	v          opendsr.Version
	controller string
}

type handler func(ctx context.Context, c call) (int, any, error)

var (
	errAuth    = &opendsr.Error{Code: http.StatusUnauthorized, Message: "valid controller credentials are required (HTTP Basic)"}
	errUnknown = &opendsr.Error{Code: http.StatusNotFound, Message: "no request with this subject_request_id"}
)

// handle authenticates (when auth), runs h and signs what it answers.
func (s *Service) handle(v opendsr.Version, auth bool, h handler) httpapi.HandlerFunc {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		if s.Signer == nil {
			return httpapi.Response{}, httpapi.ErrUnavailable
		}
		c := call{r: r, v: v}
		var status int
		var body any
		var err error
		if auth {
			c.controller, err = s.authenticate(ctx, r)
		}
		if err == nil {
			status, body, err = h(ctx, c)
		}
		var e *opendsr.Error
		if errors.As(err, &e) {
			status, body = e.Code, json.RawMessage(e.Body())
		} else if err != nil {
			return httpapi.Response{}, err // a dependency: 503 from the router
		}
		b, err := json.Marshal(body)
		if err != nil {
			return httpapi.Response{}, err
		}
		headers, err := s.Signer.Headers(v, b)
		if err != nil {
			return httpapi.Response{}, err
		}
		headers["Cache-Control"] = "no-store"
		if status == http.StatusUnauthorized {
			headers["WWW-Authenticate"] = `Basic realm="opendsr"`
		}
		return httpapi.Response{StatusCode: status, Headers: headers, Body: string(b)}, nil
	}
}

func (s *Service) authenticate(ctx context.Context, r httpapi.Request) (string, error) {
	raw, ok := strings.CutPrefix(httpapi.Header(r, "authorization"), "Basic ")
	if !ok {
		return "", errAuth
	}
	pair, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return "", errAuth
	}
	id, secret, ok := strings.Cut(string(pair), ":")
	if !ok || id == "" || len(id) > 64 {
		return "", errAuth
	}
	c, err := s.Store.LookupController(ctx, id)
	if errors.Is(err, dynamo.ErrNotFound) {
		return "", errAuth
	}
	if err != nil {
		return "", err
	}
	if c.Revoked || subtle.ConstantTimeCompare([]byte(c.SecretHash), []byte(SecretHash(s.Hasher, secret))) != 1 {
		return "", errAuth
	}
	return id, nil
}

func version(v opendsr.Version) string { return fmt.Sprintf("%d.0", v) }

func (s *Service) discovery(ctx context.Context, c call) (int, any, error) {
	type pair struct {
		Type   string `json:"identity_type"`
		Format string `json:"identity_format"`
	}
	return http.StatusOK, map[string]any{
		"api_version":                     version(c.v),
		"supported_identities":            []pair{{"email", "raw"}},
		"supported_subject_request_types": opendsr.RequestTypes,
		"processor_certificate":           s.CertURL,
	}, nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// create handles POST …/opengdpr_requests and …/requests.
func (s *Service) create(ctx context.Context, c call) (int, any, error) {
	body, err := httpapi.Body(c.r)
	if err != nil {
		return 0, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "the body cannot be read"}
	}
	req, err := opendsr.Parse(c.v, body, s.Policy)
	if err != nil {
		return 0, nil, err
	}
	email := ""
	for _, id := range req.Identities {
		if id.Type == "email" && id.Format == "raw" {
			email = opendsr.NormalizeEmail(id.Value)
			break
		}
	}
	if !privacy.ValidEmail(email) {
		return 0, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "subject_identities: an email identity in raw format is required",
			Errors: []opendsr.FieldError{{Domain: "Validation", Reason: "UnsupportedIdentity",
				Message: "subject_identities must include an email identity in raw format (see discovery)"}}}
	}
	now := s.Now().UTC()
	regulation := req.Regulation
	if regulation == "" {
		regulation = privacy.RegulationGDPR
	}
	subject := s.Hasher.Subject(email)
	rr := dynamo.RightsRequest{ID: req.SubjectRequestID, Kind: dynamo.KindRequest, Subject: string(subject), Type: req.Type,
		Regulation: regulation, Status: privacy.RequestPending, ReceivedAt: now.Format(time.RFC3339Nano),
		DueAt: rfc3339(privacy.DueAt(regulation, now)), Source: dynamo.SourceOpenDSR, Controller: c.controller,
		CallbackURLs: req.CallbackURLs, OpenDSRVersion: int(c.v)}
	err = s.Store.CreateRequest(ctx, rr, dynamo.Event{Subject: subject, Name: "request_received", At: now, Ref: rr.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: s.PolicyVersion,
		Detail: map[string]string{"type": req.Type, "source": dynamo.SourceOpenDSR, "controller_id": c.controller}})
	if errors.Is(err, dynamo.ErrExists) {
		return 0, nil, &opendsr.Error{Code: http.StatusConflict, Message: "a request with this subject_request_id exists already"}
	}
	if err != nil {
		return 0, nil, err
	}
	// The controller verified the person; the rights are carried out at
	// once by the one implementation the site's requests use too.
	if _, err := s.Fulfiller.Fulfil(ctx, rr, "opendsr", now); err != nil {
		return 0, nil, err
	}
	s.Log.InfoContext(ctx, "opendsr request fulfilled", "request_id", rr.ID, "type", rr.Type, "controller_id", c.controller)
	return http.StatusCreated, map[string]string{
		"controller_id": c.controller, "received_time": rfc3339(now), "expected_completion_time": rfc3339(now),
		"encoded_request": base64.StdEncoding.EncodeToString(body), "subject_request_id": rr.ID,
	}, nil
}

// mine loads a request of the calling controller; another controller's is
// as unknown as one that does not exist.
func (s *Service) mine(ctx context.Context, c call) (dynamo.RightsRequest, error) {
	id := c.r.PathParameters["id"]
	if !opendsr.ValidID(id) {
		return dynamo.RightsRequest{}, errUnknown
	}
	req, err := s.Store.Request(ctx, id)
	if errors.Is(err, dynamo.ErrNotFound) || err == nil && (req.Source != dynamo.SourceOpenDSR || req.Controller != c.controller) {
		return req, errUnknown
	}
	return req, err
}

// RequestStatus maps a request's status onto the protocol's four.
func RequestStatus(status string) string {
	switch status {
	case privacy.RequestPending:
		return opendsr.StatusPending
	case privacy.RequestCompleted, privacy.RequestDenied:
		return opendsr.StatusDone
	case privacy.RequestCancelled:
		return opendsr.StatusCanceled
	}
	return opendsr.StatusProgress
}

func (s *Service) status(ctx context.Context, c call) (int, any, error) {
	req, err := s.mine(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{"controller_id": c.controller, "subject_request_id": req.ID, "api_version": version(c.v),
		"request_status": RequestStatus(req.Status), "expected_completion_time": req.DueAt}
	if req.CompletedAt != "" {
		out["expected_completion_time"] = req.CompletedAt
	}
	if url, ok := rights.ExportLink(s.Tokens, s.BaseURL, req, s.Now()); ok {
		out["results_url"] = url
	}
	return http.StatusOK, out, nil
}

func (s *Service) cancel(ctx context.Context, c call) (int, any, error) {
	req, err := s.mine(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now()
	err = s.Store.Transition(ctx, req.ID, dynamo.Transition{From: []string{privacy.RequestPending}, Status: privacy.RequestCancelled,
		By: "controller:" + c.controller}, dynamo.Event{Subject: privacy.SubjectID(req.Subject), Name: "request_cancelled", At: now,
		Ref: req.ID, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: s.PolicyVersion})
	if errors.Is(err, dynamo.ErrStale) {
		return 0, nil, &opendsr.Error{Code: http.StatusConflict, Message: "only a pending request can be cancelled; this one is " +
			RequestStatus(req.Status)}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]string{"controller_id": c.controller, "received_time": rfc3339(now),
		"subject_request_id": req.ID, "api_version": version(c.v)}, nil
}

// LoadSigner reads the signing key: OPENDSR_SIGNING_KEY (a PEM, in
// development) or the Secrets Manager secret OPENDSR_SIGNING_KEY_SECRET_ARN
// names (in AWS; the operator puts the PEM there), for OPENDSR_DOMAIN.
func LoadSigner(ctx context.Context, env *lambdaenv.Env) (*opendsr.Signer, error) {
	pem := os.Getenv("OPENDSR_SIGNING_KEY")
	if arn := os.Getenv("OPENDSR_SIGNING_KEY_SECRET_ARN"); pem == "" && arn != "" && os.Getenv("DYNAMODB_ENDPOINT") == "" {
		out, err := secretsmanager.NewFromConfig(env.AWS).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if err != nil {
			return nil, fmt.Errorf("read the signing key: %w", err)
		}
		pem = aws.ToString(out.SecretString)
	}
	return opendsr.NewSigner([]byte(pem), os.Getenv("OPENDSR_DOMAIN"))
}
