package privacy

import (
	"errors"
	"sort"
	"strings"
)

// FieldCode names what is wrong with a field, whatever the language it is
// told in: the "code" of the API's field_errors, and the key of its message
// in every language of shared/web (locales/<lang>.json, "field.<code>", with
// {param} placeholders). Rewording a message changes no code.
type FieldCode string

// The field codes, and the params each carries.
const (
	FieldRequired             FieldCode = "required"
	FieldNotString            FieldCode = "not_string"
	FieldNotBool              FieldCode = "not_bool"
	FieldNotStringList        FieldCode = "not_string_list"
	FieldInvalidUTF8          FieldCode = "invalid_utf8"
	FieldNotSingleLine        FieldCode = "not_single_line"
	FieldControlCharacters    FieldCode = "control_characters"
	FieldFormatCharacters     FieldCode = "format_characters"
	FieldTooLong              FieldCode = "too_long" // max: the most characters allowed
	FieldInvalidEmail         FieldCode = "invalid_email"
	FieldInvalidPhone         FieldCode = "invalid_phone"
	FieldOneOf                FieldCode = "one_of"  // values: the values allowed
	FieldListOf               FieldCode = "list_of" // values: the values allowed
	FieldConsentRequired      FieldCode = "consent_required"
	FieldOnlyWithRelationship FieldCode = "only_with_relationship" // relationship: the one it applies with
	FieldOnlyObjection        FieldCode = "only_objection"
	FieldOnlyPortability      FieldCode = "only_portability"
	FieldOnlyRectification    FieldCode = "only_rectification"
	FieldRecipientIsOwn       FieldCode = "recipient_is_own"
	FieldAgentRecipient       FieldCode = "agent_recipient"
	FieldParentTypes          FieldCode = "parent_types"
	FieldParentIsChild        FieldCode = "parent_is_child"
	FieldAgentIsPerson        FieldCode = "agent_is_person"
	FieldDetailsRequired      FieldCode = "details_required"
	FieldCorrectionField      FieldCode = "correction_field_required"
	FieldSameAddress          FieldCode = "same_address"
	FieldTopicsRequired       FieldCode = "topics_required"
	FieldReceiptMissing       FieldCode = "receipt_missing"
	FieldReceiptTooLong       FieldCode = "receipt_too_long"
	FieldReceiptMalformed     FieldCode = "receipt_malformed"
)

// FieldCodes lists every field code, for the tests that each has its
// message in every language.
func FieldCodes() []FieldCode {
	return []FieldCode{FieldRequired, FieldNotString, FieldNotBool, FieldNotStringList, FieldInvalidUTF8,
		FieldNotSingleLine, FieldControlCharacters, FieldFormatCharacters, FieldTooLong, FieldInvalidEmail,
		FieldInvalidPhone, FieldOneOf, FieldListOf, FieldConsentRequired, FieldOnlyWithRelationship,
		FieldOnlyObjection, FieldOnlyPortability, FieldOnlyRectification, FieldRecipientIsOwn, FieldAgentRecipient, FieldParentTypes,
		FieldParentIsChild, FieldAgentIsPerson, FieldDetailsRequired, FieldCorrectionField, FieldSameAddress,
		FieldTopicsRequired, FieldReceiptMissing, FieldReceiptTooLong, FieldReceiptMalformed}
}

// FieldError is what is wrong with one field: its code, and the values
// its message names (a number, a word, or a list of words).
type FieldError struct {
	Code   FieldCode      `json:"code"`
	Params map[string]any `json:"params,omitempty"`
}

// Fault is a field error that names no value.
func Fault(code FieldCode) FieldError { return FieldError{Code: code} }

// TooLong is the error of a value longer than max characters.
func TooLong(max int) FieldError {
	return FieldError{Code: FieldTooLong, Params: map[string]any{"max": max}}
}

// OneOf is the error of a value that is none of allowed.
func OneOf(allowed ...string) FieldError {
	return FieldError{Code: FieldOneOf, Params: map[string]any{"values": allowed}}
}

// ListOf is the error of a list with a value that is none of allowed.
func ListOf(allowed ...string) FieldError {
	return FieldError{Code: FieldListOf, Params: map[string]any{"values": allowed}}
}

// OnlyWithRelationship is the error of a field that applies only when the
// request is made with relationship.
func OnlyWithRelationship(relationship Relationship) FieldError {
	return FieldError{Code: FieldOnlyWithRelationship, Params: map[string]any{"relationship": string(relationship)}}
}

// FieldErrors maps a request field to what is wrong with it. It is the
// "field_errors" object of the API's validation_failed error body (and,
// each rendered in a language, its "fields").
type FieldErrors map[string]FieldError

// Add records the first problem found for field; later ones are dropped so
// the caller sees one clear message per field.
func (f FieldErrors) Add(field string, e FieldError) {
	if _, ok := f[field]; !ok {
		f[field] = e
	}
}

// Has reports whether field has a problem recorded.
func (f FieldErrors) Has(field string) bool {
	_, ok := f[field]
	return ok
}

// Err returns a *ValidationError when any field failed, or nil.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// ValidationError is returned when input breaks a rule of the contract.
type ValidationError struct {
	Fields FieldErrors
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return "validation failed: " + strings.Join(names, ", ")
}

// AsValidation reports whether err is a validation error and returns it.
func AsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v)
	return v, ok
}

// Errors of the store, whatever keeps it.
var (
	// ErrNotFound is a read of something that is not there.
	ErrNotFound = errors.New("not found")
	// ErrStale is a change whose condition no longer holds: decided by
	// someone else first, a link to a signup that was replaced, expired or
	// never existed.
	ErrStale = errors.New("stale")
	// ErrExists is a create of something that is already there.
	ErrExists = errors.New("already exists")
	// ErrHeld is a change the store refused because the subject whose
	// data it touches is under a legal hold or a restriction.
	ErrHeld = errors.New("held")
	// ErrUnreadable is an item the store cannot act on as its class says
	// (a key, or a clock, that is not what the class's items carry): the
	// sweep counts it and looks at it again later, and never acts on it.
	ErrUnreadable = errors.New("unreadable")
)
