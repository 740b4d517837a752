// Package preferences serves the links in every marketing email: one-click
// unsubscribe (RFC 8058) and topic preferences. No login: the signed token
// in the link is the authority. GET never changes anything; POST does, is
// idempotent, and never redirects.
package preferences

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Store is what the handlers need.
type Store interface {
	Subscription(ctx context.Context, subject privacy.SubjectID) (privacy.Subscription, error)
	Unsubscribe(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error
	SetTopics(ctx context.Context, subject privacy.SubjectID, topics []string, e privacy.Event) (privacy.Subscription, error)
	AddTopic(ctx context.Context, subject privacy.SubjectID, topic string, e privacy.Event) error
	// Restriction is the requests whose restriction of the subject's
	// processing is in force (none when it is not): nothing new starts.
	Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	// Suppressions are the reasons in force that hold marketing back.
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	// Forward is where a subject's data is now and when the subject's
	// address was left (zero: never): a link of an email sent before the
	// person's address was corrected may still stop their marketing.
	Forward(ctx context.Context, subject privacy.SubjectID) (privacy.SubjectID, time.Time, error)
}

// errForwarded answers a link of an address the person has since left
// (a corrected address) that would add to what the person receives: such
// a link may stop mail, never start it, since whoever reads the old
// mailbox now may be someone else.
var errForwarded = &httpapi.Error{Status: http.StatusConflict, Code: "conflict",
	Message: "This link was sent to an address that is no longer in use for these emails: it can stop them, not start them. Nothing was changed."}

var errNotSubscribed = &httpapi.Error{Status: http.StatusConflict, Code: "conflict",
	Message: "You are not subscribed at the moment. To receive our emails again, sign up on our website; we will ask you to confirm."}

// Handlers holds the dependencies.
type Handlers struct {
	Store  Store
	Tokens *token.Signer
	Now    func() time.Time
	Log    *slog.Logger
}

// Routes registers the handlers under the template's route keys.
func (h *Handlers) Routes(rt *httpapi.Router) {
	rt.Handle("GET /v1/unsubscribe", h.UnsubscribePage)
	rt.Handle("POST /v1/unsubscribe", h.Unsubscribe)
	rt.Handle("GET /v1/preferences", h.Get)
	rt.Handle("POST /v1/preferences", h.Set)
	rt.Handle("GET /v1/preferences/add-topic", h.AddTopicPage)
	rt.Handle("POST /v1/preferences/add-topic", h.AddTopic)
}

// addTopicClaims checks an add-topic link: its topic must be one offered.
func (h *Handlers) addTopicClaims(ctx context.Context, r httpapi.Request) (link, error) {
	l, err := h.check(ctx, r, token.AddTopic)
	if err == nil && !slices.Contains(privacy.Topics(), l.Ref) {
		err = httpapi.ErrInvalidToken
	}
	return l, err
}

// AddTopicPage handles GET /v1/preferences/add-topic, the link a policy
// notice offers a new topic with: one button. It changes nothing (mail
// scanners follow links).
func (h *Handlers) AddTopicPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.addTopicClaims(ctx, r)
	if err != nil {
		return httpapi.Response{}, err
	}
	lang := pages.Lang(r)
	return pages.ActionPage(r, pages.Action{Key: "add_topic", Args: []any{lang.T("topic." + c.Ref)},
		URL: r.RawPath + "?token=" + httpapi.Query(r, "token")}), nil
}

// AddTopic handles POST /v1/preferences/add-topic: the confirmation that
// adds the offered topic, recorded in the ledger as consent
// (topic_added). Idempotent; a subscription no longer confirmed is a 409.
func (h *Handlers) AddTopic(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.addTopicClaims(ctx, r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := httpapi.Body(r); err != nil {
		return httpapi.Response{}, err
	}
	if c.forwarded {
		return httpapi.Response{}, errForwarded
	}
	if err := h.unrestricted(ctx, c.Subject); err != nil {
		return httpapi.Response{}, err
	}
	e := h.event(c, "topic_added", r, map[string]string{"topic": c.Ref, "consent_text_version": privacy.ConsentTextVersion})
	e.Ref = c.Ref
	err = h.Store.AddTopic(ctx, c.Subject, c.Ref, e)
	if errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, errNotSubscribed
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("add topic: %w", err)
	}
	h.Log.InfoContext(ctx, "topic added", "topic", c.Ref)
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "add_topic.done"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"status": "added", "topic": c.Ref}), nil
}

// unrestricted refuses (httpapi.ErrRestricted) when the subject's
// processing is restricted: a topic added is a new processing for
// marketing, which a restriction holds back (GDPR Art. 18).
func (h *Handlers) unrestricted(ctx context.Context, subject privacy.SubjectID) error {
	by, err := h.Store.Restriction(ctx, subject)
	if err != nil {
		return fmt.Errorf("restriction check: %w", err)
	}
	if len(by) > 0 {
		h.Log.InfoContext(ctx, "topic not added: processing restricted", "restricted_by", strings.Join(by, ","))
		return httpapi.ErrRestricted
	}
	return nil
}

// noTopicAdded refuses a change of topics that adds one to a restricted
// subject's subscription, or through a forwarded link; taking topics off
// is always possible.
func (h *Handlers) noTopicAdded(ctx context.Context, l link, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	var err error = errForwarded
	if !l.forwarded {
		if err = h.unrestricted(ctx, l.Subject); !errors.Is(err, httpapi.ErrRestricted) {
			return err
		}
	}
	sub, serr := h.Store.Subscription(ctx, l.Subject)
	if serr != nil && !errors.Is(serr, privacy.ErrNotFound) {
		return fmt.Errorf("set preferences: %w", serr)
	}
	for _, t := range topics {
		if !sub.HasTopic(t) {
			return err
		}
	}
	return nil
}

// link is a checked link: its claims, with Subject where the person's
// data is now, and minted the subject it was minted for.
type link struct {
	token.Claims
	minted privacy.SubjectID
	// forwarded: the link was sent to an address the person left (a
	// corrected address), before they left it; it acts on their data at
	// the new key, but may only stop mail.
	forwarded bool
}

// check checks a link's token for purpose p. A link of an address the
// person has since left follows them only when it was minted before the
// move: one minted after was sent to whoever holds the address now, and
// acts on that address's own data (or on none).
func (h *Handlers) check(ctx context.Context, r httpapi.Request, p token.Purpose) (link, error) {
	c, err := h.Tokens.Check(httpapi.Query(r, "token"), p, h.Now())
	if err != nil {
		return link{}, httpapi.ErrInvalidToken
	}
	l := link{Claims: c, minted: c.Subject}
	to, movedAt, err := h.Store.Forward(ctx, c.Subject)
	if err != nil {
		return link{}, err
	}
	// An offer's link (add-topic) only ever adds, which a forwarded link may
	// not: it acts on its own key whenever it was minted (and its 30 days
	// are not the 400 MarketingMintedBefore reads). A link minted in the
	// second of the move is not followed (a token's end has whole seconds:
	// it may be the next holder's).
	if to != c.Subject && p != token.AddTopic && links.MarketingMintedBefore(c, movedAt) {
		l.Subject, l.forwarded = to, true
	}
	return l, nil
}

func (h *Handlers) event(c link, name string, r httpapi.Request, detail map[string]string) privacy.Event {
	meta := httpapi.Meta(r, h.Now())
	if detail == nil {
		detail = map[string]string{}
	}
	if c.forwarded {
		// Whoever clicked reads the address the person left: their
		// network is not the person's to keep (nor to see in an export).
		detail["via"] = "forward"
	} else {
		detail["source_ip"], detail["user_agent"] = meta.SourceIP, meta.UserAgent
	}
	return privacy.Event{Subject: c.Subject, Name: name, At: meta.ReceivedAt, Purpose: privacy.PurposeMarketing,
		LegalBasis: r.Site.Bases.Of(privacy.PurposeMarketing), PolicyVersion: r.Site.PolicyVersion, Detail: detail}
}

// preferencesURL mints a preferences link for the subject an unsubscribe
// link was minted for, ending when it ends, so its page can offer topic
// choices (a forwarded link's stays one: never a link of the new key).
func (h *Handlers) preferencesURL(c link) (string, error) {
	return links.Builder{Tokens: h.Tokens}.Preferences(c.minted, c.Expires) // relative: the page is on the site
}

func checkboxes(sub privacy.Subscription) []pages.Checkbox {
	var cb []pages.Checkbox
	for _, t := range privacy.Topics() {
		cb = append(cb, pages.Checkbox{Name: "topics", Value: t, Label: "topic." + t, Checked: sub.HasTopic(t)})
	}
	return cb
}

// UnsubscribePage handles GET /v1/unsubscribe: everything off with one
// button, or pick topics. It changes nothing.
func (h *Handlers) UnsubscribePage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.check(ctx, r, token.Unsubscribe)
	if err != nil {
		return httpapi.Response{}, err
	}
	sub, err := h.Store.Subscription(ctx, c.Subject)
	if err != nil && !errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, fmt.Errorf("unsubscribe page: %w", err)
	}
	prefs, err := h.preferencesURL(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.ActionPage(r, pages.Action{Key: "unsubscribe", URL: prefs, Legend: "newsletter.topics",
		Checkboxes: checkboxes(sub), SecondURL: r.RawPath + "?token=" + httpapi.Query(r, "token"), SecondButton: "unsubscribe.all",
	}), nil
}

// Unsubscribe handles POST /v1/unsubscribe, the RFC 8058 one-click target:
// whatever the body (List-Unsubscribe=One-Click as form data or multipart,
// or nothing), every marketing topic goes off at once.
func (h *Handlers) Unsubscribe(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.check(ctx, r, token.Unsubscribe)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := httpapi.Body(r); err != nil {
		return httpapi.Response{}, err
	}
	if err := h.Store.Unsubscribe(ctx, c.Subject, h.event(c, "unsubscribed", r, nil)); err != nil {
		return httpapi.Response{}, fmt.Errorf("unsubscribe: %w", err)
	}
	h.Log.InfoContext(ctx, "unsubscribed")
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "unsubscribed"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"status": "unsubscribed"}), nil
}

type prefsBody struct {
	EmailMasked string          `json:"email_masked"`
	Status      string          `json:"status"`
	Topics      map[string]bool `json:"topics"`
	// SuppressedBecause says why no marketing goes to the address now
	// (suppression reasons); a confirmed new signup lifts them.
	SuppressedBecause []string `json:"suppressed_because,omitempty"`
}

func body(sub privacy.Subscription, suppressed []string) prefsBody {
	b := prefsBody{EmailMasked: privacy.MaskEmail(sub.Email), Status: sub.Status, Topics: map[string]bool{},
		SuppressedBecause: suppressed}
	for _, t := range privacy.Topics() {
		b.Topics[t] = sub.HasTopic(t)
	}
	return b
}

// Get handles GET /v1/preferences: the topics, as JSON or as a page.
func (h *Handlers) Get(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.check(ctx, r, token.Preferences)
	if err != nil {
		return httpapi.Response{}, err
	}
	sub, err := h.Store.Subscription(ctx, c.Subject)
	if errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, httpapi.ErrNotFound
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("preferences: %w", err)
	}
	suppressed, err := h.Store.Suppressions(ctx, c.Subject)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("preferences: %w", err)
	}
	// A forwarded link's page does not show where the person moved to.
	masked := privacy.MaskEmail(sub.Email)
	if c.forwarded {
		sub.Email, masked = "", pages.Lang(r).T("preferences.moved_address")
	}
	if httpapi.WantsHTML(r) {
		a := pages.Action{Key: "preferences", Args: []any{masked},
			URL: r.RawPath + "?token=" + httpapi.Query(r, "token"), Legend: "newsletter.topics", Checkboxes: checkboxes(sub)}
		if len(suppressed) > 0 {
			l := pages.Lang(r)
			var why []string
			for _, reason := range suppressed {
				why = append(why, l.T("suppression."+reason))
			}
			a.Key, a.Args = "preferences.suppressed", []any{masked, strings.Join(why, "; ")}
		}
		return pages.ActionPage(r, a), nil
	}
	return httpapi.JSON(http.StatusOK, body(sub, suppressed)), nil
}

// Set handles POST /v1/preferences with the topics to keep. From a page
// form, no topics ticked means none.
func (h *Handlers) Set(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, err := h.check(ctx, r, token.Preferences)
	if err != nil {
		return httpapi.Response{}, err
	}
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	// A page form with every box unticked sends no field at all; a JSON
	// caller must say what it wants, [] being "none".
	if _, given := in["topics"]; !given && !strings.HasPrefix(httpapi.Header(r, "content-type"), "application/x-www-form-urlencoded") {
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{
			Fields: privacy.FieldErrors{"topics": privacy.Fault(privacy.FieldTopicsRequired)}})
	}
	topics, err := privacy.ParseTopics(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	if err := h.noTopicAdded(ctx, c, topics); err != nil {
		return httpapi.Response{}, err
	}
	name := "preferences_changed"
	if len(topics) == 0 {
		name = "unsubscribed"
	}
	sub, err := h.Store.SetTopics(ctx, c.Subject, topics, h.event(c, name, r, map[string]string{"topics": fmt.Sprint(topics)}))
	if errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, errNotSubscribed
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("set preferences: %w", err)
	}
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "preferences.saved"), nil
	}
	if c.forwarded {
		sub.Email = "" // not where the person moved to
	}
	suppressed, err := h.Store.Suppressions(ctx, c.Subject)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("set preferences: %w", err)
	}
	return httpapi.JSON(http.StatusOK, body(sub, suppressed)), nil
}
