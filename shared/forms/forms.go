// Package forms serves the website's forms: the contact form now, the
// newsletter signup next. Each handler validates, stores what the person
// gave with its purpose, legal basis, policy version and request metadata,
// and leaves the emails to the mailer (the stored item makes them due).
package forms

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Store is what the forms need from the database.
type Store interface {
	SaveInquiry(ctx context.Context, i privacy.Inquiry) error
	Ping(ctx context.Context) error
}

// Forms holds the handlers' dependencies.
type Forms struct {
	Store         Store
	Hasher        *privacy.Hasher
	PolicyVersion string
	Now           func() time.Time
	NewID         func() string
	Log           *slog.Logger
}

// Routes registers the handlers under the route keys template.yaml declares.
func (f *Forms) Routes(rt *httpapi.Router) {
	rt.Handle("POST /v1/contact", f.Contact)
	rt.Handle("GET /v1/health", f.Health)
}

type accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Contact handles POST /v1/contact.
func (f *Forms) Contact(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	id := f.NewID()
	if in.Honeypot() {
		// Answer exactly as for a person, so the bot learns nothing.
		f.Log.InfoContext(ctx, "honeypot filled; dropped", "request_id", r.RequestContext.RequestID)
		return received(r, id), nil
	}
	form, err := privacy.ParseContact(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	inq := privacy.NewInquiry(id, f.Hasher.Subject(form.Email), form, f.PolicyVersion, httpapi.Meta(r, f.Now()))
	if err := f.Store.SaveInquiry(ctx, inq); err != nil {
		return httpapi.Response{}, fmt.Errorf("contact %s: %w", id, err)
	}
	f.Log.InfoContext(ctx, "inquiry stored", "request_id", r.RequestContext.RequestID, "inquiry_id", id, "topic", form.Topic)
	return received(r, id), nil
}

func received(r httpapi.Request, id string) httpapi.Response {
	if httpapi.WantsHTML(r) {
		return httpapi.Page(http.StatusAccepted, "Thank you",
			"We received your message and sent you a confirmation by email. Your reference is "+id+".")
	}
	return httpapi.JSON(http.StatusAccepted, accepted{ID: id, Status: "received"})
}

// Health handles GET /v1/health: 200 when the table can be reached.
func (f *Forms) Health(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := f.Store.Ping(ctx); err != nil {
		return httpapi.Response{}, fmt.Errorf("health: %w", err)
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"status": "ok"}), nil
}
