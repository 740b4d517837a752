package preferences

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Routes registers the handlers under the template's route keys; every
// route answers the service's errors as the contract does (problem).
func (h *Handlers) Routes(rt *httpapi.Router) {
	rt.Routes(problem, map[string]httpapi.HandlerFunc{
		"GET /v1/unsubscribe":            h.unsubscribePage,
		"POST /v1/unsubscribe":           h.unsubscribe,
		"GET /v1/preferences":            h.get,
		"POST /v1/preferences":           h.set,
		"GET /v1/preferences/add-topic":  h.addTopicPage,
		"POST /v1/preferences/add-topic": h.addTopic,
	})
}

// problem is err as the contract answers it; any other error is a
// dependency's (the router answers 503).
func problem(err error) error {
	switch {
	case errors.Is(err, ErrInvalidLink):
		return httpapi.ErrInvalidToken
	case errors.Is(err, ErrRestricted):
		return httpapi.ErrRestricted
	case errors.Is(err, ErrForwarded):
		return &httpapi.Error{Status: http.StatusConflict, Code: "conflict",
			Message: "This link was sent to an address that is no longer in use for these emails: it can stop them, not start them. Nothing was changed."}
	case errors.Is(err, ErrNotSubscribed):
		return &httpapi.Error{Status: http.StatusConflict, Code: "conflict",
			Message: "You are not subscribed at the moment. To receive our emails again, sign up on our website; we will ask you to confirm."}
	case errors.Is(err, privacy.ErrNotFound):
		return httpapi.ErrNotFound
	}
	return err
}

// click is the request a link made, as the service takes it.
func (h *Handlers) click(r httpapi.Request) Click {
	return Click{Token: httpapi.Query(r, "token"), Meta: httpapi.Meta(r, h.Now()), PolicyVersion: r.Site.PolicyVersion,
		Bases: r.Site.Bases}
}

// addTopicPage is the link a policy notice offers a new topic with: one
// button. It changes nothing (mail scanners follow links).
func (h *Handlers) addTopicPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	topic, err := h.OfferedTopic(ctx, httpapi.Query(r, "token"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "add_topic", Args: []any{pages.Lang(r).T("topic." + topic)}, URL: httpapi.SelfLink(r)}), nil
}

func (h *Handlers) addTopic(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if _, err := httpapi.Body(r); err != nil {
		return httpapi.Response{}, err
	}
	topic, err := h.AddTopic(ctx, h.click(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"status": "added", "topic": topic}, "add_topic.done"), nil
}

// unsubscribePage offers everything off with one button, or topics to
// pick. It changes nothing.
func (h *Handlers) unsubscribePage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	sub, prefs, err := h.UnsubscribeChoices(ctx, httpapi.Query(r, "token"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "unsubscribe", URL: prefs, Legend: "newsletter.topics",
		Checkboxes: checkboxes(sub), SecondURL: httpapi.SelfLink(r), SecondButton: "unsubscribe.all"}), nil
}

// unsubscribe is the RFC 8058 one-click target: whatever the body
// (List-Unsubscribe=One-Click as form data or multipart, or nothing).
func (h *Handlers) unsubscribe(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if _, err := httpapi.Body(r); err != nil {
		return httpapi.Response{}, err
	}
	if err := h.Unsubscribe(ctx, h.click(r)); err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"status": "unsubscribed"}, "unsubscribed"), nil
}

// get answers the topics, as JSON or as a page.
func (h *Handlers) get(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	v, err := h.Preferences(ctx, httpapi.Query(r, "token"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if !httpapi.WantsHTML(r) {
		return httpapi.JSON(http.StatusOK, body(v)), nil
	}
	l := pages.Lang(r)
	masked := privacy.MaskEmail(v.Subscription.Email)
	if v.Forwarded {
		masked = l.T("preferences.moved_address")
	}
	a := pages.Action{Key: "preferences", Args: []any{masked}, URL: httpapi.SelfLink(r), Legend: "newsletter.topics",
		Checkboxes: checkboxes(v.Subscription)}
	if len(v.Suppressed) > 0 {
		var why []string
		for _, reason := range v.Suppressed {
			why = append(why, l.T("suppression."+reason))
		}
		a.Key, a.Args = "preferences.suppressed", []any{masked, strings.Join(why, "; ")}
	}
	return pages.ActionPage(r, a), nil
}

// set keeps the topics posted. From a page form, no topics ticked means
// none; a JSON caller must say what it wants, [] being "none".
func (h *Handlers) set(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, given := in["topics"]; !given && !strings.HasPrefix(httpapi.Header(r, "content-type"), "application/x-www-form-urlencoded") {
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{
			Fields: privacy.FieldErrors{"topics": privacy.Fault(privacy.FieldTopicsRequired)}})
	}
	topics, err := privacy.ParseTopics(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	v, err := h.SetTopics(ctx, h.click(r), topics)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, body(v), "preferences.saved"), nil
}

func checkboxes(sub privacy.Subscription) []pages.Checkbox {
	var cb []pages.Checkbox
	for _, t := range privacy.Topics() {
		cb = append(cb, pages.Checkbox{Name: "topics", Value: t, Label: "topic." + t, Checked: sub.HasTopic(t)})
	}
	return cb
}

type prefsBody struct {
	EmailMasked string          `json:"email_masked"`
	Status      string          `json:"status"`
	Topics      map[string]bool `json:"topics"`
	// SuppressedBecause says why no marketing goes to the address now
	// (suppression reasons); a confirmed new signup lifts them.
	SuppressedBecause []string `json:"suppressed_because,omitempty"`
}

func body(v View) prefsBody {
	b := prefsBody{EmailMasked: privacy.MaskEmail(v.Subscription.Email), Status: v.Subscription.Status, Topics: map[string]bool{},
		SuppressedBecause: v.Suppressed}
	for _, t := range privacy.Topics() {
		b.Topics[t] = v.Subscription.HasTopic(t)
	}
	return b
}
