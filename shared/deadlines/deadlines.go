// Package deadlines watches the rights requests' deadlines: one digest to
// the privacy team per run, listing the requests that are overdue, due
// within a week, or waiting on the requester. Never one email per request.
package deadlines

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Soon is how far ahead "due soon" looks.
const Soon = 7 * 24 * time.Hour

// Requests is what the watch reads of one table of rights requests: those
// in a status due at or before until, summarised (id, type, status, times,
// and a Platform request's controller).
type Requests interface {
	DueRequests(ctx context.Context, status privacy.Status, until time.Time) ([]privacy.RightsRequest, error)
}

// Store is what the watch reads: the site's requests and deliveries by
// status and deadline, and the legal holds.
type Store interface {
	Requests
	DeliverySummaries(ctx context.Context, status string) ([]privacy.Delivery, error)
	Holds(ctx context.Context) ([]privacy.Hold, error)
}

// Sender sends one email.
type Sender interface {
	Send(ctx context.Context, m notify.Message) (string, error)
}

// Watch builds and sends the digest.
type Watch struct {
	Store Store
	// Platform is the Platform's requests (OpenDSR, from controllers;
	// PlatformRequestsTable): listed with the site's, each marked as the
	// Platform's with its controller. Nil lists the site's alone.
	Platform Requests
	Mail     Sender
	Config   notify.Config
	Now      func() time.Time
	Log      *slog.Logger
}

// source is one table of requests the watch reads, and whether it is the
// Platform's.
type source struct {
	reqs     Requests
	platform bool
}

// Result counts what the digest listed.
type Result struct {
	Overdue int `json:"overdue"`
	DueSoon int `json:"due_soon"`
	Waiting int `json:"waiting_on_requester"`
	// Recipients counts processors told of an erasure not yet done with it.
	Recipients int `json:"recipients_not_done"`
	// Holds counts the legal holds the digest listed.
	Holds int  `json:"legal_holds"`
	Sent  bool `json:"digest_sent"`
}

// Run queries the index and sends one digest if anything needs attention.
func (w *Watch) Run(ctx context.Context) (Result, error) {
	now := w.Now().UTC()
	var d notify.Digest
	d.Date = now.Format("2 January 2006")
	// The open requests are read through each requests table's
	// "by-status-due" index (status, due_at): the team's due within Soon,
	// and every one waiting on the requester. Overdue is privacy.Overdue's.
	// The Platform's (the controllers' OpenDSR requests) are in a table of
	// their own; the team watches their deadlines too.
	var platformErr error
	sources := []source{{reqs: w.Store}}
	if w.Platform != nil {
		sources = append(sources, source{reqs: w.Platform, platform: true})
	}
	for _, src := range sources {
		for _, st := range privacy.OpenStatuses() {
			until := now.Add(Soon)
			if st.Waiting() {
				until = now.AddDate(1, 0, 0)
			}
			rs, err := src.reqs.DueRequests(ctx, st, until)
			if err != nil && src.platform {
				// The site's deadlines are told anyway, with a line that
				// the Platform's are missing; the run still fails after
				// (the alarm).
				platformErr, d.PlatformUnread = fmt.Errorf("the Platform's requests: %w", err), true
				break
			}
			if err != nil {
				return Result{}, err
			}
			for _, r := range rs {
				it := notify.DigestItem{ID: r.ID, Type: string(r.Type), Status: string(r.Status), Due: r.DueAt,
					Platform: src.platform}
				if src.platform {
					it.Controller = r.Controller
				}
				switch {
				case privacy.Overdue(r, now):
					d.Overdue = append(d.Overdue, it)
				case st.Waiting():
					d.Waiting = append(d.Waiting, it)
				default:
					d.DueSoon = append(d.DueSoon, it)
				}
			}
		}
	}
	for _, l := range [][]notify.DigestItem{d.Overdue, d.DueSoon, d.Waiting} {
		sort.Slice(l, func(i, j int) bool { return l[i].Due.Before(l[j].Due) })
	}
	for _, st := range []string{privacy.DeliveryFailed, privacy.DeliveryOpen} {
		rs, err := w.recipients(ctx, st)
		if err != nil {
			return Result{}, err
		}
		d.Recipients = append(d.Recipients, rs...)
	}
	res := Result{Overdue: len(d.Overdue), DueSoon: len(d.DueSoon), Waiting: len(d.Waiting), Recipients: len(d.Recipients)}
	if res.Overdue+res.DueSoon+res.Waiting+res.Recipients > 0 || d.PlatformUnread {
		// The legal holds in force are shown in a digest that goes out
		// anyway: a hold alone is not a reason to email every day.
		holds, err := w.holds(ctx, now)
		if err != nil {
			return res, err
		}
		d.Holds, res.Holds = holds, len(holds)
		msg, err := notify.DeadlineDigest(w.Config, d)
		if err != nil {
			return res, err
		}
		if _, err := w.Mail.Send(ctx, msg); err != nil {
			return res, fmt.Errorf("send digest: %w", err)
		}
		res.Sent = true
	}
	w.Log.InfoContext(ctx, "deadline watch", "overdue", res.Overdue, "due_soon", res.DueSoon,
		"waiting", res.Waiting, "recipients", res.Recipients, "digest_sent", res.Sent, "platform_unread", d.PlatformUnread)
	return res, platformErr
}

// recipients lists the deliveries in a status bucket, oldest first.
func (w *Watch) recipients(ctx context.Context, status string) ([]notify.DigestRecipient, error) {
	ds, err := w.Store.DeliverySummaries(ctx, status)
	if err != nil {
		return nil, err
	}
	out := make([]notify.DigestRecipient, 0, len(ds))
	for _, d := range ds {
		out = append(out, notify.DigestRecipient{RequestID: d.RequestID, Processor: d.ProcessorName, State: d.State,
			LastError: d.LastError, Since: d.SubmittedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// holds lists the legal holds in force at now, oldest first.
func (w *Watch) holds(ctx context.Context, now time.Time) ([]notify.DigestHold, error) {
	hs, err := w.Store.Holds(ctx)
	if err != nil {
		return nil, err
	}
	var out []notify.DigestHold
	for _, h := range hs {
		if !h.InForce(now) {
			continue
		}
		sub := string(h.Subject)
		out = append(out, notify.DigestHold{Subject: sub[:min(12, len(sub))], Reason: h.Reason, By: h.PlacedBy,
			Since: h.PlacedAt, Until: h.Until})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}
