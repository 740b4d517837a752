// Package inbound acts on the mail the stack receives through SES: an
// email to the mailto: address of a marketing email's List-Unsubscribe
// header (links.Builder.UnsubscribeMail) unsubscribes the subject its
// local part was signed for, exactly as the one-click link does. The local
// part is the authority (a mailbox token); the sender's address, the
// message and its headers are never read, kept or logged.
package inbound

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Event is the part of SES's Lambda action event the handler reads
// (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html).
// It is decoded here, not with aws-lambda-go's types, so the package
// stays at the edge's far side.
type Event struct {
	Records []Record `json:"Records"`
}

// Record is one received message.
type Record struct {
	EventSource string `json:"eventSource"`
	SES         struct {
		Mail struct {
			MessageID string `json:"messageId"`
		} `json:"mail"`
		Receipt Receipt `json:"receipt"`
	} `json:"ses"`
}

// Receipt is what SES decided about a message: its envelope recipients
// that the receipt rule matched, and its scans' verdicts.
type Receipt struct {
	// Recipients are the envelope's (RCPT TO) addresses the rule matched,
	// never the message's To and Cc headers, which the sender writes.
	Recipients   []string `json:"recipients"`
	SpamVerdict  Verdict  `json:"spamVerdict"`
	VirusVerdict Verdict  `json:"virusVerdict"`
}

// Verdict is one scan's result: PASS, FAIL, GRAY or PROCESSING_FAILED.
type Verdict struct {
	Status string `json:"status"`
}

// Store is what the handler needs: the same unsubscription and forward
// the one-click link uses (dynamo.Store).
type Store interface {
	Unsubscribe(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error
	Forward(ctx context.Context, subject privacy.SubjectID) (privacy.SubjectID, time.Time, error)
}

// Handler unsubscribes the subjects of the addresses a message was sent to.
type Handler struct {
	Store  Store
	Tokens *token.Signer
	// Domain is the domain of the unsubscribe addresses (the template's
	// UnsubscribeMailDomain): an address at another is not one of ours.
	Domain string
	Policy privacy.PolicyInForce
	Now    func() time.Time
	Log    *slog.Logger
}

// Result counts what an invocation did, by address.
type Result struct {
	Unsubscribed int `json:"unsubscribed"`
	// Ignored: not an unsubscribe address of ours, a token that does not
	// check out (altered, expired, another purpose), or a repeat of an
	// address already handled in the same event.
	Ignored int `json:"ignored"`
	// Spam: messages SES's scans failed; none of their addresses is read.
	Spam int `json:"spam"`
}

// Invoke handles one SES event. It fails only when the store does, so
// Lambda retries the event (an unsubscription is idempotent); anything
// else it ignores, and says how much in its result and its log.
func (h *Handler) Invoke(ctx context.Context, e Event) (Result, error) {
	var res Result
	now := h.Now()
	for _, rec := range e.Records {
		if rec.EventSource != "aws:ses" {
			res.Ignored += len(rec.SES.Receipt.Recipients)
			continue
		}
		r := rec.SES.Receipt
		if r.SpamVerdict.Status == "FAIL" || r.VirusVerdict.Status == "FAIL" {
			res.Spam++
			continue
		}
		seen := map[privacy.SubjectID]bool{}
		for _, to := range r.Recipients {
			c, ok := h.claims(to, now)
			if !ok || seen[c.Subject] {
				res.Ignored++
				continue
			}
			seen[c.Subject] = true
			if err := h.unsubscribe(ctx, c, now); err != nil {
				return res, fmt.Errorf("message %s: %w", rec.SES.Mail.MessageID, err)
			}
			res.Unsubscribed++
		}
	}
	h.Log.InfoContext(ctx, "unsubscribe mail", "unsubscribed", res.Unsubscribed, "ignored", res.Ignored, "spam", res.Spam)
	return res, nil
}

// claims checks that to is an unsubscribe address of ours and returns its
// token's claims.
func (h *Handler) claims(to string, now time.Time) (token.Claims, bool) {
	local, domain, ok := strings.Cut(to, "@")
	if !ok || h.Domain == "" || !strings.EqualFold(domain, h.Domain) {
		return token.Claims{}, false
	}
	c, err := h.Tokens.CheckMailbox(local, token.Unsubscribe, now)
	return c, err == nil
}

// unsubscribe does what POST /v1/unsubscribe does for the link's subject:
// an address the person has since left (a corrected address) follows them
// when its token was certainly minted before the move
// (links.MarketingMintedBefore; a mailbox token's end is rounded up to the
// hour, so it errs toward its own key), else acts on its own key. The
// ledger names the channel; there is no network data to keep.
func (h *Handler) unsubscribe(ctx context.Context, c token.Claims, now time.Time) error {
	subject, detail := c.Subject, map[string]string{"channel": "mailto"}
	to, movedAt, err := h.Store.Forward(ctx, c.Subject)
	if err != nil {
		return err
	}
	if to != c.Subject && links.MarketingMintedBefore(c, movedAt) {
		subject, detail["via"] = to, "forward"
	}
	v := h.Policy(ctx)
	err = h.Store.Unsubscribe(ctx, subject, privacy.Event{Subject: subject, Name: "unsubscribed", At: now,
		Purpose: privacy.PurposeMarketing, LegalBasis: v.Basis(privacy.PurposeMarketing), PolicyVersion: v.Version, Detail: detail})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}
