package privacy

import (
	"errors"
	"sort"
	"strings"
)

// FieldErrors maps a request field to what is wrong with it. It is the
// "fields" object of the API's validation_failed error body.
type FieldErrors map[string]string

// Add records the first problem found for field; later ones are dropped so
// the caller sees one clear message per field.
func (f FieldErrors) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
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
)
