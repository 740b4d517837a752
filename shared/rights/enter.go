package rights

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Entry is a request that reached the team by email, phone, post or in
// person (the policy sends people to privacy@): the team enters it on the
// person's behalf. The deadline counts from the day it was received.
type Entry struct {
	Email, Name, Type, Details, Regulation, Scope, Lang string
	Channel                                             string
	// Received is the day the request reached the company.
	Received time.Time
	// IdentityCheck says how the team verified that the request is the
	// person's (what was compared with what). Empty: the person is sent
	// the usual verification link, and nothing happens before they use it.
	IdentityCheck string
}

// ErrEntry is an entry that is not a request the desk can take.
var ErrEntry = errors.New("not a request the desk can enter")

// MaxEntryAge is how long ago a request entered may have been received: a
// date further back is a typing mistake, not a letter found in a drawer.
const MaxEntryAge = 365 * 24 * time.Hour

// Enter records e as a request of the person at e.Email, with the caller
// named in its ledger entry (request_entered: who, the channel, the day
// received, how identity was checked). With an identity check it is
// verified and carried out at once, as a verified request is; without, the
// person is sent the verification link. It is never joined with another
// request and names no one else (no agent, parent, recipient or new
// address: those come through the site's form, where each confirms).
func (d *Desk) Enter(ctx context.Context, e Entry) (privacy.RightsRequest, error) {
	now := d.Now().UTC()
	received := time.Date(e.Received.Year(), e.Received.Month(), e.Received.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case !slices.Contains(privacy.Channels(), e.Channel):
		return privacy.RightsRequest{}, fmt.Errorf("%w: channel must be one of %s", ErrEntry, strings.Join(privacy.Channels(), ", "))
	case e.Received.IsZero() || received.After(now):
		return privacy.RightsRequest{}, fmt.Errorf("%w: the day received is required and not in the future", ErrEntry)
	case now.Sub(received) > MaxEntryAge:
		return privacy.RightsRequest{}, fmt.Errorf("%w: received more than a year ago", ErrEntry)
	}
	if err := privacy.CheckText("identity", e.IdentityCheck, 500); err != nil {
		return privacy.RightsRequest{}, fmt.Errorf("%w: %w", ErrBadText, err)
	}
	in := privacy.Input{"email": e.Email, "type": e.Type}
	for k, v := range map[string]string{"name": e.Name, "details": e.Details, "regulation": e.Regulation, "scope": e.Scope} {
		if v != "" {
			in[k] = v
		}
	}
	f, err := privacy.ParseRightsRequest(in)
	if v, ok := privacy.AsValidation(err); ok {
		var fields []string
		for _, k := range slices.Sorted(maps.Keys(v.Fields)) {
			fields = append(fields, k+": "+string(v.Fields[k].Code))
		}
		return privacy.RightsRequest{}, fmt.Errorf("%w: %s", ErrEntry, strings.Join(fields, "; "))
	}
	if err != nil {
		return privacy.RightsRequest{}, err
	}
	req := privacy.RightsRequest{ID: d.NewID(), Subject: d.Hasher.Subject(f.Email), Email: f.Email, Name: f.Name, Type: f.Type,
		Details: f.Details, Regulation: f.Regulation, Scope: f.Scope, Lang: privacy.Language(e.Lang), Channel: e.Channel,
		Status: privacy.RequestIdentityUnverified, ReceivedAt: received, DueAt: privacy.SiteDueAt(f.Regulation, f.Type, received)}
	ev := d.event(ctx, req, privacy.EventRequestEntered)
	ev.Detail["channel"], ev.Detail["received_on"] = e.Channel, received.Format(time.DateOnly)
	ev.Detail["type"], ev.Detail["regulation"] = string(f.Type), f.Regulation
	if e.IdentityCheck == "" {
		// The usual link, to the address the request gives.
		req.VerifyNonce, req.VerifySentAt = d.once(), now
		req.MailDue = privacy.Due(privacy.MailReceived, req.VerifyNonce)
		if err := d.Store.CreateRequest(ctx, req, ev); err != nil {
			return req, err
		}
		return req, nil
	}
	ev.Detail["identity_check"] = e.IdentityCheck
	req.Status, req.VerifiedAt = privacy.RequestPending, now
	if err := d.Store.CreateRequest(ctx, req, ev); err != nil {
		return req, err
	}
	status, err := d.Fulfiller.Fulfil(ctx, req, d.once(), now)
	if err != nil {
		return req, fmt.Errorf("request %s entered, not yet carried out (approve it to finish): %w", req.ID, err)
	}
	req.Status = status
	return req, nil
}
