package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/metric"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The records API: what a controller hands this system to process on its
// behalf, and where it fetches an access request's results.
const (
	recordRoute  = "/platform/v1/records/{record_id}"
	keysRoute    = "/platform/v1/sensitive_keys"
	resultsRoute = "/platform/v1/requests/{id}/results"
	// MaxAttributes is the largest attributes object a record may carry.
	MaxAttributes = 16 << 10
	maxRecordBody = MaxAttributes + 4<<10
)

var recordID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// recordIn is the body of PUT /platform/v1/records/{record_id}.
type recordIn struct {
	Identities []opendsr.Identity `json:"identities"`
	Attributes json.RawMessage    `json:"attributes"`
}

// recordOut is how a record is answered, and exported: its identities by
// type and format only, since their values are kept only as keys.
type recordOut struct {
	RecordID   string                `json:"record_id"`
	Controller string                `json:"controller_id"`
	Identities []privacy.IdentityRef `json:"identities"`
	Attributes json.RawMessage       `json:"attributes"`
	CreatedAt  string                `json:"created_at"`
	UpdatedAt  string                `json:"updated_at"`
}

func out(r privacy.Record) recordOut {
	attrs := r.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	ids := r.Identities
	if ids == nil {
		ids = []privacy.IdentityRef{}
	}
	return recordOut{RecordID: r.ID, Controller: r.Controller, Attributes: attrs, Identities: ids,
		CreatedAt: rfc3339(r.CreatedAt), UpdatedAt: rfc3339(r.UpdatedAt)}
}

func invalid(field, reason, msg string) error {
	return &opendsr.Error{Code: http.StatusBadRequest, Message: field + " " + msg,
		Errors: []opendsr.FieldError{{Domain: "Validation", Reason: reason, Message: field + " " + msg}}}
}

var errNoRecord = &opendsr.Error{Code: http.StatusNotFound, Message: "no record with this record_id"}

// MaxRecordIdentities bounds the identities of one record (each raw one
// is kept as three keys, and a record and its keys are one write).
const MaxRecordIdentities = 10

// ParseRecord validates a record's body: 1 to MaxRecordIdentities
// identities of any OpenDSR type and format (opendsr.CheckIdentity: the
// shape of each type; a raw value is normalised for its type), and
// attributes, a JSON object of at most MaxAttributes bytes. It returns the
// identities that name someone (opendsr.Identifying) and the attributes.
func ParseRecord(body []byte) ([]opendsr.Identity, json.RawMessage, error) {
	if len(body) > maxRecordBody {
		return nil, nil, &opendsr.Error{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("the body is larger than %d bytes", maxRecordBody)}
	}
	var in recordIn
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return nil, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "the body must be one JSON object with identities and attributes"}
	}
	if len(in.Identities) == 0 || len(in.Identities) > MaxRecordIdentities {
		return nil, nil, invalid("identities", "InvalidValue", fmt.Sprintf("must list 1 to %d identities", MaxRecordIdentities))
	}
	var errs []opendsr.FieldError
	for i, id := range in.Identities {
		errs = append(errs, opendsr.CheckIdentity(fmt.Sprintf("identities[%d]", i), id)...)
	}
	if len(errs) > 0 {
		return nil, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: errs[0].Message, Errors: errs}
	}
	// An identity that names no one (the zeroed advertising id) is not
	// kept as a key: every record carrying it would share it.
	ids := opendsr.Identifying(in.Identities)
	if len(ids) == 0 {
		return nil, nil, invalid("identities", "InvalidValue", opendsr.NoOne)
	}
	attrs := bytes.TrimSpace(in.Attributes)
	switch {
	case len(attrs) == 0 || bytes.Equal(attrs, []byte("null")):
		attrs = []byte("{}")
	case attrs[0] != '{':
		return nil, nil, invalid("attributes", "InvalidValue", "must be a JSON object")
	case len(attrs) > MaxAttributes:
		return nil, nil, invalid("attributes", "TooLarge", fmt.Sprintf("must be at most %d bytes", MaxAttributes))
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, attrs); err != nil {
		return nil, nil, invalid("attributes", "InvalidValue", "must be a JSON object")
	}
	return ids, compact.Bytes(), nil
}

// recordKeys are a record's identities as keys at controller, each once:
// a raw value normalised for its type gives a key per digest format, so a
// request naming it raw, md5, sha1 or sha256 finds it; a digest gives its
// own format's key only.
func (s *Service) recordKeys(controller string, ids []opendsr.Identity) ([]privacy.IdentityRef, []string) {
	refs := make([]privacy.IdentityRef, 0, len(ids))
	var keys []string
	for _, id := range ids {
		refs = append(refs, privacy.IdentityRef{Type: id.Type, Format: id.Format})
		if id.Format == "raw" {
			v, _ := opendsr.NormalizeIdentity(id.Type, id.Value)
			keys = append(keys, s.Hasher.IdentityKeys(controller, id.Type, v)...)
			continue
		}
		keys = append(keys, s.Hasher.IdentityKey(controller, id.Type, id.Format, id.Value))
	}
	slices.Sort(keys)
	return refs, slices.Compact(keys)
}

func (s *Service) recordID(c call) (string, error) {
	id := c.r.Params["record_id"]
	if !recordID.MatchString(id) {
		return "", invalid("record_id", "InvalidValue", "must be 1 to 128 letters, digits or . _ : -")
	}
	return id, nil
}

// writeAllowed applies the controller's record write limit.
func (s *Service) writeAllowed(ctx context.Context, c call, now time.Time) error {
	ex, err := limit.Apply(ctx, s.Store, now, limit.Check{Rule: s.RecordLimit, Key: c.controller})
	if err != nil || ex == nil {
		return err
	}
	s.Log.WarnContext(ctx, "controller over its record write limit", "controller_id", c.controller)
	return &opendsr.Error{Code: http.StatusTooManyRequests, RetryAfter: ex.RetryAfter,
		Message: fmt.Sprintf("more than %d record writes in %s: try again later", ex.Rule.Max, ex.Rule.Window)}
}

// putRecord handles PUT /platform/v1/records/{record_id}: the record is
// stored (201) or replaced (200) under the calling controller, keyed by
// the person's keys at that controller.
func (s *Service) putRecord(ctx context.Context, c call) (int, any, error) {
	id, err := s.recordID(c)
	if err != nil {
		return 0, nil, err
	}
	body, err := httpapi.Body(c.r)
	if err != nil {
		return 0, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "the body cannot be read"}
	}
	ids, attrs, err := ParseRecord(body)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now().UTC()
	if err := s.writeAllowed(ctx, c, now); err != nil {
		return 0, nil, err
	}
	if err := s.refuseSensitive(ctx, c, attrs, now); err != nil {
		return 0, nil, err
	}
	refs, keys := s.recordKeys(c.controller, ids)
	r := privacy.Record{Controller: c.controller, ID: id, Identities: refs, Keys: keys, Attributes: attrs, UpdatedAt: now}
	r, created, err := s.Store.PutRecord(ctx, r)
	if err != nil {
		return 0, nil, err
	}
	s.Log.InfoContext(ctx, "controller record stored", "controller_id", c.controller, "created", created)
	if created {
		return http.StatusCreated, out(r), nil
	}
	return http.StatusOK, out(r), nil
}

// MetricSensitiveRefused counts records refused for prohibited data, by
// function and by controller (template alarm SensitiveDataRefusedAlarm).
const MetricSensitiveRefused = "SensitiveDataRefused"

// refuseSensitive answers 422, naming the attribute's path and its kind
// (never the value), when attrs hold what the Platform's contract
// prohibits (CheckSensitive, with the controller's own key names), and
// counts it per controller.
func (s *Service) refuseSensitive(ctx context.Context, c call, attrs json.RawMessage, now time.Time) error {
	extra, err := s.Store.SensitiveKeys(ctx, c.controller)
	if err != nil {
		return err
	}
	f, found := CheckSensitive(attrs, extra)
	if !found {
		return nil
	}
	attrsLog := append([]slog.Attr{slog.String("kind", f.Kind)}, metric.CountBy(MetricSensitiveRefused, now, "controller_id", c.controller)...)
	s.Log.LogAttrs(ctx, slog.LevelWarn, "controller record refused: prohibited data", attrsLog...)
	msg := f.Path + " holds a " + f.Kind + ", which the Platform does not accept: nothing was stored"
	return &opendsr.Error{Code: http.StatusUnprocessableEntity, Message: msg,
		Errors: []opendsr.FieldError{{Domain: "Validation", Reason: "SensitiveData", Message: msg}}}
}

// sensitiveKeysIn is the body of PUT /platform/v1/sensitive_keys.
type sensitiveKeysIn struct {
	KeyNames []string `json:"key_names"`
}

// putSensitiveKeys handles PUT /platform/v1/sensitive_keys: the calling
// controller's own key names that no record of its may carry (beside the
// built-in ones), replacing its list.
func (s *Service) putSensitiveKeys(ctx context.Context, c call) (int, any, error) {
	body, err := httpapi.Body(c.r)
	if err != nil || len(body) > 8<<10 {
		return 0, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "the body must be a JSON object of at most 8 KiB"}
	}
	var in sensitiveKeysIn
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return 0, nil, invalid("key_names", "InvalidValue", "must be a list of key names")
	}
	names, err := ParseSensitiveKeys(in.KeyNames)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now().UTC()
	if err := s.writeAllowed(ctx, c, now); err != nil {
		return 0, nil, err
	}
	if err := s.Store.SetSensitiveKeys(ctx, c.controller, names, now); err != nil {
		return 0, nil, err
	}
	s.Log.InfoContext(ctx, "controller sensitive key names set", "controller_id", c.controller, "names", len(names))
	return http.StatusOK, map[string]any{"controller_id": c.controller, "key_names": names}, nil
}

func (s *Service) getSensitiveKeys(ctx context.Context, c call) (int, any, error) {
	names, err := s.Store.SensitiveKeys(ctx, c.controller)
	if err != nil {
		return 0, nil, err
	}
	if names == nil {
		names = []string{}
	}
	return http.StatusOK, map[string]any{"controller_id": c.controller, "key_names": names}, nil
}

func (s *Service) getRecord(ctx context.Context, c call) (int, any, error) {
	id, err := s.recordID(c)
	if err != nil {
		return 0, nil, err
	}
	r, err := s.Store.GetRecord(ctx, c.controller, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return 0, nil, errNoRecord
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out(r), nil
}

func (s *Service) deleteRecord(ctx context.Context, c call) (int, any, error) {
	id, err := s.recordID(c)
	if err != nil {
		return 0, nil, err
	}
	if err := s.writeAllowed(ctx, c, s.Now().UTC()); err != nil {
		return 0, nil, err
	}
	err = s.Store.DeleteRecord(ctx, c.controller, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return 0, nil, errNoRecord
	}
	if err != nil {
		return 0, nil, err
	}
	s.Log.InfoContext(ctx, "controller record deleted", "controller_id", c.controller)
	return http.StatusOK, map[string]any{"record_id": id, "controller_id": c.controller, "deleted": true}, nil
}

// results handles GET /platform/v1/requests/{id}/results: the records the
// calling controller holds here about the subject of its completed access
// or portability request, read now, for ResultsValidity after completion.
// Another controller's request is as unknown as one that does not exist.
func (s *Service) results(ctx context.Context, c call) (int, any, error) {
	req, err := s.mine(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now().UTC()
	if _, ok := resultsURL(s.BaseURL, req, now); !ok {
		if req.Status == privacy.RequestCompleted && (req.Type == privacy.RightAccess || req.Type == privacy.RightPortability) {
			return 0, nil, &opendsr.Error{Code: http.StatusGone, Message: "these results were available for 7 days after completion"}
		}
		return 0, nil, &opendsr.Error{Code: http.StatusNotFound, Message: "no results: not a completed access or portability request"}
	}
	recs, err := s.Store.KeyedRecords(ctx, c.controller, req.IdentityKeys)
	if err != nil {
		return 0, nil, err
	}
	list := make([]recordOut, 0, len(recs))
	for _, r := range recs {
		list = append(list, out(r))
	}
	s.Log.InfoContext(ctx, "opendsr results served", "subject_request_id", req.ID, "controller_id", c.controller, "records", len(list))
	return http.StatusOK, map[string]any{"controller_id": c.controller, "subject_request_id": req.ID,
		"subject_request_type": req.Type, "generated_time": rfc3339(now), "records": list}, nil
}

// resultsPath is the results route of request id.
func resultsPath(id string) string { return strings.Replace(resultsRoute, "{id}", id, 1) }
