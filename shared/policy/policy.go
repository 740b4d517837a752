// Package policy keeps the privacy policy's versions as data: the version
// in force, read again at most every few seconds so a publish needs no
// deploy, and the planner that makes each published version's notices
// due, once per person, at a configured rate, resumably.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Versions reads the published versions.
type Versions interface {
	PolicyVersions(ctx context.Context) ([]privacy.PolicyVersion, error)
}

// Cache answers the version in force, reading the published versions at
// most every TTL. A read that fails keeps what was read before (and the
// initial version before any), and is logged: a form is not refused
// because the list of versions could not be read.
type Cache struct {
	Store   Versions
	Initial privacy.PolicyVersion
	TTL     time.Duration
	Now     func() time.Time
	Log     *slog.Logger

	mu      sync.Mutex
	history []privacy.PolicyVersion
	read    time.Time
}

// InForce is the version in force now (a privacy.PolicyInForce).
func (c *Cache) InForce(ctx context.Context) privacy.PolicyVersion {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if c.read.IsZero() || now.Sub(c.read) >= c.TTL {
		h, err := c.Store.PolicyVersions(ctx)
		if err != nil {
			c.Log.WarnContext(ctx, "policy versions not read; the last known stays in force", "error", err.Error())
		} else {
			c.history, c.read = h, now
		}
	}
	return privacy.InForce(c.history, now, c.Initial)
}

// PlannerStore is what the planner reads and writes.
type PlannerStore interface {
	Versions
	SaveNoticeProgress(ctx context.Context, version string, p privacy.NoticeProgress) error
	SubscribersPage(ctx context.Context, cursor string, limit int) ([]privacy.Subscription, string, error)
	RequestsPage(ctx context.Context, status privacy.Status, cursor string, limit int) ([]privacy.RightsRequest, string, error)
	// InquirersPage is the inquiries still kept, each with its id,
	// subject, address and language.
	InquirersPage(ctx context.Context, cursor string, limit int, now time.Time) ([]privacy.Inquiry, string, error)
	// PutNotice makes a notice due, once per person and version: made is
	// false when it was made before, by what ref names.
	PutNotice(ctx context.Context, n privacy.Notice, at time.Time) (made bool, ref string, err error)
}

// requesterStatuses are the requests whose requesters are told of a
// material change: open with the address proven.
func requesterStatuses() []privacy.Status { return privacy.VerifiedOpenStatuses() }

// Planner makes the notices of every version whose notices are pending.
// Each person's notice is an item of theirs that the mailer sends (the
// outbox), made with a condition, so a planner killed midway and run
// again makes each once; its progress is saved after every page.
type Planner struct {
	Store PlannerStore
	// Rate is how many notices a second it makes at most (so the mailer
	// sends them at that rate); Page how many people it reads at a time.
	Rate float64
	Page int
	Now  func() time.Time
	// Sleep waits (time.Sleep unless the context ends first).
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

// Report says what one run did for one version.
type Report struct {
	Version     string `json:"version"`
	Made        int    `json:"made"`
	Subscribers int    `json:"subscribers"`
	Requesters  int    `json:"requesters"`
	Inquirers   int    `json:"inquirers"`
	Done        bool   `json:"done"`
}

// errOutOfTime stops a run at its deadline; the next run resumes.
var errOutOfTime = errors.New("out of time")

// Invoke is the Lambda's handler (its event says nothing): Run until 5
// seconds before the invocation's deadline (time to save where it
// stopped), or for 50 seconds without one.
func (p *Planner) Invoke(ctx context.Context, _ json.RawMessage) ([]Report, error) {
	deadline := p.Now().Add(50 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d.Add(-5 * time.Second)
	}
	return p.Run(ctx, deadline)
}

// Sleep waits d, or until ctx ends: a Planner's Sleep in Lambda.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run plans until every pending version is done or until the deadline
// (the function's timeout less a margin); the next run resumes.
func (p *Planner) Run(ctx context.Context, deadline time.Time) ([]Report, error) {
	versions, err := p.Store.PolicyVersions(ctx)
	if err != nil {
		return nil, err
	}
	var reps []Report
	for _, v := range versions {
		if v.Notices.State != privacy.NoticesPending {
			continue
		}
		rep, err := p.plan(ctx, v, deadline)
		reps = append(reps, rep)
		if errors.Is(err, errOutOfTime) {
			break
		}
		if err != nil {
			p.Log.ErrorContext(ctx, "notices run failed; the next run resumes", "version", v.Version, "error", err.Error())
			return reps, fmt.Errorf("notices of %s: %w", v.Version, err)
		}
	}
	return reps, nil
}

func (p *Planner) plan(ctx context.Context, v privacy.PolicyVersion, deadline time.Time) (Report, error) {
	prog := v.Notices
	rep := Report{Version: v.Version}
	audiences := v.Audiences()
	if prog.Phase == "" && len(audiences) > 0 {
		prog.Phase = audiences[0]
	}
	log := p.Log.With("version", v.Version)
	start, made := p.Now(), 0
	for prog.State == privacy.NoticesPending {
		if !p.Now().Before(deadline) || ctx.Err() != nil {
			log.InfoContext(ctx, "notices paused; the next run resumes", "phase", prog.Phase, "made", rep.Made)
			return p.report(rep, prog), errOutOfTime
		}
		notices, next, err := p.page(ctx, v, prog)
		if err != nil {
			return p.report(rep, prog), err
		}
		for _, n := range notices {
			ok, ref, err := p.Store.PutNotice(ctx, n, p.Now())
			if err != nil {
				return p.report(rep, prog), err
			}
			// One this page made in a run killed before its checkpoint
			// counts once; one another request or the subscription made
			// (the same person) does not count again.
			if ok || ref == n.Ref {
				count(&prog, n.Audience)
			}
			if !ok {
				continue
			}
			made++
			rep.Made++
			// At most Rate a second: the mailer sends as they are made.
			if wait := start.Add(time.Duration(float64(made) / p.Rate * float64(time.Second))).Sub(p.Now()); wait > 0 {
				if err := p.Sleep(ctx, wait); err != nil {
					return p.report(rep, prog), errOutOfTime
				}
			}
		}
		prog = advance(prog, audiences, next)
		prog.Updated = p.Now()
		if err := p.Store.SaveNoticeProgress(ctx, v.Version, prog); err != nil {
			return p.report(rep, prog), err
		}
	}
	log.InfoContext(ctx, "notices planned", "subscribers", prog.Subscribers, "requesters", prog.Requesters,
		"inquirers", prog.Inquirers)
	return p.report(rep, prog), nil
}

func (p *Planner) report(rep Report, prog privacy.NoticeProgress) Report {
	rep.Subscribers, rep.Requesters, rep.Inquirers = prog.Subscribers, prog.Requesters, prog.Inquirers
	rep.Done = prog.State == privacy.NoticesDone
	return rep
}

func count(prog *privacy.NoticeProgress, audience string) {
	switch audience {
	case privacy.NoticeSubscribers:
		prog.Subscribers++
	case privacy.NoticeRequesters:
		prog.Requesters++
	case privacy.NoticeInquirers:
		prog.Inquirers++
	}
}

// The requesters' cursor names the status it is in: "<index>:<cursor>".
func requesterCursor(c string) (int, string) {
	i, rest, ok := strings.Cut(c, ":")
	n, err := strconv.Atoi(i)
	if !ok || err != nil || n < 0 || n >= len(requesterStatuses()) {
		return 0, ""
	}
	return n, rest
}

// advance moves the progress past a page whose next cursor is next.
func advance(prog privacy.NoticeProgress, audiences []string, next string) privacy.NoticeProgress {
	if prog.Phase == privacy.NoticeRequesters {
		i, _ := requesterCursor(prog.Cursor)
		switch {
		case next != "":
			prog.Cursor = strconv.Itoa(i) + ":" + next
			return prog
		case i+1 < len(requesterStatuses()):
			prog.Cursor = strconv.Itoa(i+1) + ":"
			return prog
		}
	} else if next != "" {
		prog.Cursor = next
		return prog
	}
	// This audience is done: the next one, or the version.
	k := slices.Index(audiences, prog.Phase)
	if k >= 0 && k+1 < len(audiences) {
		prog.Phase, prog.Cursor = audiences[k+1], ""
		return prog
	}
	prog.State, prog.Cursor = privacy.NoticesDone, ""
	return prog
}

// page reads the next page of the current audience as the notices due.
func (p *Planner) page(ctx context.Context, v privacy.PolicyVersion, prog privacy.NoticeProgress) ([]privacy.Notice, string, error) {
	var out []privacy.Notice
	if prog.Phase == privacy.NoticeInquirers {
		inqs, next, err := p.Store.InquirersPage(ctx, prog.Cursor, p.Page, p.Now())
		for _, i := range inqs {
			if i.Subject == "" || i.Form.Email == "" {
				continue
			}
			out = append(out, privacy.Notice{Subject: i.Subject, Email: i.Form.Email, Audience: privacy.NoticeInquirers, Ref: i.ID,
				Lang: i.Lang, Version: v})
		}
		return out, next, err
	}
	if prog.Phase == privacy.NoticeRequesters {
		i, cursor := requesterCursor(prog.Cursor)
		reqs, next, err := p.Store.RequestsPage(ctx, requesterStatuses()[i], cursor, p.Page)
		for _, r := range reqs {
			// An OpenDSR request's person is the controller's to tell. A
			// parent's request is answered to the parent, whose notice would
			// carry links for the child's key: the team has not yet accepted
			// (or may never accept) that they are the parent (fifth review).
			if r.Source == privacy.SourceOpenDSR || r.Subject == "" || r.AnswerTo() == "" || r.ParentEmail != "" {
				continue
			}
			out = append(out, privacy.Notice{Subject: r.Subject, Email: r.AnswerTo(), Audience: privacy.NoticeRequesters, Ref: r.ID,
				Lang: r.Lang, Version: v})
		}
		return out, next, err
	}
	subs, next, err := p.Store.SubscribersPage(ctx, prog.Cursor, p.Page)
	for _, s := range subs {
		var offers []string
		for _, t := range v.NewPurposes {
			if !s.HasTopic(t) {
				offers = append(offers, t)
			}
		}
		// A new purpose alone is offered to those who do not have it; a
		// material change is told to every subscriber.
		if !v.Material && len(offers) == 0 {
			continue
		}
		out = append(out, privacy.Notice{Subject: s.Subject, Email: s.Email, Audience: privacy.NoticeSubscribers, Ref: "subscription",
			Lang: s.Lang, Version: v, Offers: offers})
	}
	return out, next, err
}

// Publish checks a version to be published after inForce: a name, a day,
// a summary when it tells anyone anything, new purposes that are topics
// the system offers, legal bases the policy may state; a version that
// changes a basis is material (people are told what their data is now
// processed on). Its notices are pending when it notifies anyone.
func Publish(v privacy.PolicyVersion, inForce privacy.PolicyVersion) (privacy.PolicyVersion, error) {
	v.Summary = strings.TrimSpace(v.Summary)
	switch {
	case strings.TrimSpace(v.Version) == "" || strings.ContainsAny(v.Version, " \t\n#"):
		return v, errors.New("a version needs a name without spaces or #")
	case v.Effective.IsZero():
		return v, errors.New("a version needs its effective day")
	case v.Notifies() && v.Summary == "":
		return v, errors.New("a version that tells people of a change needs a summary of it")
	case len(v.Summary) > 2000:
		return v, errors.New("the summary is longer than 2000 characters")
	}
	// Everyone the change concerns reads the summary: nothing in it may
	// hide or reorder text.
	if err := privacy.CheckText("summary", v.Summary, 2000); err != nil {
		return v, err
	}
	if err := v.Bases.Check(); err != nil {
		return v, err
	}
	for _, p := range privacy.StatedPurposes() {
		if was, now := inForce.Basis(p), v.Basis(p); was != now && !v.Material {
			return v, fmt.Errorf("the basis of %s changes (%s to %s): that is a material change, to be told to everyone it concerns", p, was, now)
		}
	}
	for _, t := range v.NewPurposes {
		if !slices.Contains(privacy.Topics(), t) {
			return v, fmt.Errorf("new purpose %q is not a topic the system offers (%s)", t, strings.Join(privacy.Topics(), ", "))
		}
	}
	v.Notices = privacy.NoticeProgress{State: privacy.NoticesNone}
	if v.Notifies() {
		v.Notices.State = privacy.NoticesPending
	}
	return v, nil
}

// NewCache is the version in force from store, read again at most every
// ttl, initial (the template's PolicyVersion) until a version is published.
func NewCache(store Versions, initial string, ttl time.Duration, log *slog.Logger) *Cache {
	return &Cache{Store: store, Initial: privacy.InitialPolicy(initial), TTL: ttl, Now: time.Now, Log: log}
}
