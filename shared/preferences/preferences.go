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
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/links"
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

// Why a link changed nothing (the HTTP adapter answers each as the
// contract says).
var (
	// ErrInvalidLink is a link whose token is not good for what it asks.
	ErrInvalidLink = errors.New("invalid link")
	// ErrForwarded is a link of an address the person has since left (a
	// corrected address) that would add to what the person receives:
	// such a link may stop mail, never start it, since whoever reads the
	// old mailbox now may be someone else.
	ErrForwarded = errors.New("link of an address no longer in use: it may stop mail, not start it")
	// ErrNotSubscribed is a change of topics of no confirmed subscription.
	ErrNotSubscribed = errors.New("not subscribed")
	// ErrRestricted is a topic added to a person who restricted the
	// processing of their data (GDPR Art. 18): nothing new starts.
	ErrRestricted = errors.New("processing restricted")
)

// Handlers holds the dependencies.
type Handlers struct {
	Store  Store
	Tokens *token.Signer
	Now    func() time.Time
	Log    *slog.Logger
}

// Click is a request a link of a marketing email made: its token, what
// the ledger keeps of who clicked, and the policy in force.
type Click struct {
	Token         string
	Meta          privacy.RequestMeta
	PolicyVersion string
	Bases         privacy.Bases
}

// View is a subscription as a link's page or answer shows it.
type View struct {
	Subscription privacy.Subscription
	// Suppressed says why no marketing goes to the address now.
	Suppressed []string
	// Forwarded: the link was sent to an address the person left; the
	// view does not show where the person moved to (no Email).
	Forwarded bool
}

// OfferedTopic is the topic an add-topic link offers; it changes nothing.
func (h *Handlers) OfferedTopic(ctx context.Context, tok string) (string, error) {
	l, err := h.addTopicClaims(ctx, tok)
	return l.Ref, err
}

// addTopicClaims checks an add-topic link: its topic must be one offered.
func (h *Handlers) addTopicClaims(ctx context.Context, tok string) (link, error) {
	l, err := h.check(ctx, tok, token.AddTopic)
	if err == nil && !slices.Contains(privacy.Topics(), l.Ref) {
		err = ErrInvalidLink
	}
	return l, err
}

// AddTopic adds the topic a link offers, recorded in the ledger as
// consent (topic_added), and returns it. Idempotent; a subscription no
// longer confirmed is ErrNotSubscribed.
func (h *Handlers) AddTopic(ctx context.Context, c Click) (string, error) {
	l, err := h.addTopicClaims(ctx, c.Token)
	if err != nil {
		return "", err
	}
	if l.forwarded {
		return "", ErrForwarded
	}
	if err := h.unrestricted(ctx, l.Subject); err != nil {
		return "", err
	}
	e := h.event(l, "topic_added", c, map[string]string{"topic": l.Ref, "consent_text_version": privacy.ConsentTextVersion})
	e.Ref = l.Ref
	err = h.Store.AddTopic(ctx, l.Subject, l.Ref, e)
	if errors.Is(err, privacy.ErrNotFound) {
		return "", ErrNotSubscribed
	}
	if err != nil {
		return "", fmt.Errorf("add topic: %w", err)
	}
	h.Log.InfoContext(ctx, "topic added", "topic", l.Ref)
	return l.Ref, nil
}

// unrestricted refuses (ErrRestricted) when the subject's processing is
// restricted: a topic added is a new processing for marketing, which a
// restriction holds back (GDPR Art. 18).
func (h *Handlers) unrestricted(ctx context.Context, subject privacy.SubjectID) error {
	by, err := h.Store.Restriction(ctx, subject)
	if err != nil {
		return fmt.Errorf("restriction check: %w", err)
	}
	if len(by) > 0 {
		h.Log.InfoContext(ctx, "topic not added: processing restricted", "restricted_by", strings.Join(by, ","))
		return ErrRestricted
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
	var err error = ErrForwarded
	if !l.forwarded {
		if err = h.unrestricted(ctx, l.Subject); !errors.Is(err, ErrRestricted) {
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
func (h *Handlers) check(ctx context.Context, tok string, p token.Purpose) (link, error) {
	c, err := h.Tokens.Check(tok, p, h.Now())
	if err != nil {
		return link{}, ErrInvalidLink
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

func (h *Handlers) event(l link, name string, c Click, detail map[string]string) privacy.Event {
	if detail == nil {
		detail = map[string]string{}
	}
	if l.forwarded {
		// Whoever clicked reads the address the person left: their
		// network is not the person's to keep (nor to see in an export).
		detail["via"] = "forward"
	} else {
		detail["source_ip"], detail["user_agent"] = c.Meta.SourceIP, c.Meta.UserAgent
	}
	return privacy.Event{Subject: l.Subject, Name: privacy.EventName(name), At: c.Meta.ReceivedAt, Purpose: privacy.PurposeMarketing,
		LegalBasis: c.Bases.Of(privacy.PurposeMarketing), PolicyVersion: c.PolicyVersion, Detail: detail}
}

// UnsubscribeChoices is what an unsubscribe link's page offers: the
// subscription's topics to pick, and the preferences link (minted for the
// subject the unsubscribe link was minted for, ending when it ends; a
// forwarded link's stays one: never a link of the new key) their choice
// posts to. It changes nothing.
func (h *Handlers) UnsubscribeChoices(ctx context.Context, tok string) (privacy.Subscription, string, error) {
	l, err := h.check(ctx, tok, token.Unsubscribe)
	if err != nil {
		return privacy.Subscription{}, "", err
	}
	sub, err := h.Store.Subscription(ctx, l.Subject)
	if err != nil && !errors.Is(err, privacy.ErrNotFound) {
		return privacy.Subscription{}, "", fmt.Errorf("unsubscribe page: %w", err)
	}
	prefs, err := links.Builder{Tokens: h.Tokens}.Preferences(l.minted, l.Expires) // relative: the page is on the site
	if err != nil {
		return privacy.Subscription{}, "", err
	}
	return sub, prefs, nil
}

// Unsubscribe turns every marketing topic off at once (the RFC 8058
// one-click target).
func (h *Handlers) Unsubscribe(ctx context.Context, c Click) error {
	l, err := h.check(ctx, c.Token, token.Unsubscribe)
	if err != nil {
		return err
	}
	if err := h.Store.Unsubscribe(ctx, l.Subject, h.event(l, "unsubscribed", c, nil)); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	h.Log.InfoContext(ctx, "unsubscribed")
	return nil
}

// Preferences is the subscription a preferences link is for; none is
// privacy.ErrNotFound.
func (h *Handlers) Preferences(ctx context.Context, tok string) (View, error) {
	l, err := h.check(ctx, tok, token.Preferences)
	if err != nil {
		return View{}, err
	}
	sub, err := h.Store.Subscription(ctx, l.Subject)
	if errors.Is(err, privacy.ErrNotFound) {
		return View{}, err
	}
	if err != nil {
		return View{}, fmt.Errorf("preferences: %w", err)
	}
	suppressed, err := h.Store.Suppressions(ctx, l.Subject)
	if err != nil {
		return View{}, fmt.Errorf("preferences: %w", err)
	}
	if l.forwarded {
		sub.Email = "" // not where the person moved to
	}
	return View{Subscription: sub, Suppressed: suppressed, Forwarded: l.forwarded}, nil
}

// SetTopics keeps only topics (none: unsubscribed) of the subscription a
// preferences link is for, and returns it as it is now.
func (h *Handlers) SetTopics(ctx context.Context, c Click, topics []string) (View, error) {
	l, err := h.check(ctx, c.Token, token.Preferences)
	if err != nil {
		return View{}, err
	}
	if err := h.noTopicAdded(ctx, l, topics); err != nil {
		return View{}, err
	}
	name := "preferences_changed"
	if len(topics) == 0 {
		name = "unsubscribed"
	}
	sub, err := h.Store.SetTopics(ctx, l.Subject, topics, h.event(l, name, c, map[string]string{"topics": fmt.Sprint(topics)}))
	if errors.Is(err, privacy.ErrNotFound) {
		return View{}, ErrNotSubscribed
	}
	if err != nil {
		return View{}, fmt.Errorf("set preferences: %w", err)
	}
	if l.forwarded {
		sub.Email = "" // not where the person moved to
	}
	suppressed, err := h.Store.Suppressions(ctx, l.Subject)
	if err != nil {
		return View{}, fmt.Errorf("set preferences: %w", err)
	}
	return View{Subscription: sub, Suppressed: suppressed, Forwarded: l.forwarded}, nil
}
