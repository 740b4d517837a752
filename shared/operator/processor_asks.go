package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Where people's erasures, rectifications and restrictions go (each
// with the person's address) is decided by two team members: one asks to
// register a processor (AddProcessor) or to change a registered one's
// privacy contact address (ChangeProcessorContact); nothing changes until
// another member approves the ask (ApproveProcessorAsk), as a lift of a
// complaint waits for a second member. One member alone cannot send every
// person's notices to a mailbox of theirs.

// ProcessorAskView is an ask waiting for a second member as the team
// sees it: what it would do (the processor as registered after it,
// without its credentials), the contact it replaces, who asked, when and
// why, when it lapses, and why it can no longer be approved (Stale).
type ProcessorAskView struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Processor ProcessorView `json:"processor"`
	Was       string        `json:"was,omitempty"`
	AskedBy   string        `json:"asked_by"`
	AskedAt   time.Time     `json:"asked_at"`
	LapsesAt  time.Time     `json:"lapses_at"`
	Reason    string        `json:"reason,omitempty"`
	Stale     string        `json:"stale,omitempty"`
}

func processorView(p privacy.Processor) ProcessorView {
	return ProcessorView{ID: p.ID, Name: p.Name, URL: p.URL, Host: privacy.HostOf(p.URL), IdentityFormat: p.IdentityFormat, Types: p.Types,
		Contact: p.Contact}
}

func askView(a privacy.ProcessorAsk) ProcessorAskView {
	return ProcessorAskView{ID: a.ID, Kind: a.Kind, Processor: processorView(a.Processor), Was: a.Was, AskedBy: a.AskedBy,
		AskedAt: a.AskedAt, LapsesAt: a.AskedAt.Add(privacy.ProcessorAskLapses), Reason: a.Reason}
}

// askProcessor records a, asked by c now, with its ledger entry (detail:
// what it would do, domains only) and answers it as the team sees it.
func (o *Operator) askProcessor(ctx context.Context, c Caller, a privacy.ProcessorAsk, detail map[string]string) (ProcessorAskView, error) {
	a.ID, a.AskedBy, a.AskedAt, a.Reason = o.NewID(), c.By, o.Now().UTC(), strings.TrimSpace(a.Reason)
	d := map[string]string{"ask_id": a.ID, "lapses_at": a.AskedAt.Add(privacy.ProcessorAskLapses).Format(time.RFC3339)}
	for k, v := range detail {
		d[k] = v
	}
	name := privacy.EventName("processor_add_asked")
	if a.Kind == privacy.ProcessorAskContact {
		name = "processor_contact_change_asked"
	}
	if err := o.Store.AskProcessor(ctx, a, o.teamEvent(ctx, c, name, a.Processor.ID, a.Reason, d)); err != nil {
		return ProcessorAskView{}, err
	}
	return askView(a), nil
}

// ChangeProcessorContact asks to change registered processor id's
// privacy contact address (its privacy team moved, its inbox changed
// hands), with why: a second member's approval (ApproveProcessorAsk)
// changes it, and from then on what the processor is emailed goes there,
// the deliveries already waiting for its email (its mailbox's digest, a
// retry, a lift) included, as the mailer reads the address when it
// sends. A new ask for the processor replaces the one waiting. The team's
// ledger names who asked, why, and the domains of the new and the
// current address, never an address. A reason is required: the address
// receives people's data.
func (o *Operator) ChangeProcessorContact(ctx context.Context, c Caller, id, contact, reason string) (ProcessorAskView, error) {
	if err := decision(c, "processor contact", id); err != nil {
		return ProcessorAskView{}, err
	}
	addr, domain, err := contactOf(contact)
	switch {
	case err != nil:
		return ProcessorAskView{}, err
	case strings.TrimSpace(reason) == "":
		return ProcessorAskView{}, fmt.Errorf("%w: a reason is required: the audit records why the processor's address changed", ErrBadRequest)
	}
	if err := privacy.CheckLine("reason", reason, privacy.MaxDetails); err != nil {
		return ProcessorAskView{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	p, err := o.processor(ctx, id)
	if err != nil {
		return ProcessorAskView{}, err
	}
	if p.Contact == addr {
		return ProcessorAskView{}, fmt.Errorf("%w: that is already processor %s's contact address", ErrBadRequest, id)
	}
	detail := map[string]string{"contact_domain": domain, "previous_contact_domain": domainOf(p.Contact)}
	was := p.Contact
	p.Contact = addr
	p.Credentials, p.Certificate = "", "" // the registration's own stay where they are
	return o.askProcessor(ctx, c, privacy.ProcessorAsk{Kind: privacy.ProcessorAskContact, Processor: p, Was: was, Reason: reason}, detail)
}

// processor is registered processor id.
func (o *Operator) processor(ctx context.Context, id string) (privacy.Processor, error) {
	procs, err := o.Store.Processors(ctx)
	if err != nil {
		return privacy.Processor{}, err
	}
	i := slices.IndexFunc(procs, func(p privacy.Processor) bool { return p.ID == id })
	if i < 0 {
		return privacy.Processor{}, notFound("processor "+id, privacy.ErrNotFound)
	}
	return procs[i], nil
}

// domainOf is an address's domain ("" for none).
func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}

// ProcessorAsks lists the asks waiting for a second member, oldest first,
// each marked Stale when it can no longer be approved (lapsed, or the
// processor changed or was removed since).
func (o *Operator) ProcessorAsks(ctx context.Context, c Caller) ([]ProcessorAskView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	asks, err := o.Store.ProcessorAsks(ctx)
	if err != nil {
		return nil, err
	}
	procs, err := o.Store.Processors(ctx)
	if err != nil {
		return nil, err
	}
	now := o.Now()
	out := make([]ProcessorAskView, 0, len(asks))
	for _, a := range asks {
		v := askView(a)
		v.Stale = stale(a, procs, now)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ProcessorAskView) int { return a.AskedAt.Compare(b.AskedAt) })
	return out, nil
}

// stale is why a can no longer be approved at now, given the processors
// registered: "" when it can.
func stale(a privacy.ProcessorAsk, procs []privacy.Processor, now time.Time) string {
	if a.Lapsed(now) {
		return fmt.Sprintf("lapsed: not approved within %s; ask again", privacy.ProcessorAskLapses)
	}
	i := slices.IndexFunc(procs, func(p privacy.Processor) bool { return p.ID == a.Processor.ID })
	switch {
	case a.Kind == privacy.ProcessorAskAdd && i >= 0:
		return "already registered"
	case a.Kind == privacy.ProcessorAskContact && i < 0:
		return "the processor was removed since"
	case a.Kind == privacy.ProcessorAskContact && procs[i].Contact != a.Was:
		return "the processor's contact changed since it was asked"
	}
	return ""
}

// ApproveProcessorAsk carries out ask id, asked by another member, with
// why (what the approver checked): the processor is registered, or its
// contact address changed (and its former address told, with nothing of
// any person). Refused when c asked it themselves (Member: the same
// person through another session of the same role too), when it is no
// longer the ask waiting (approved, replaced by a newer ask, lapsed:
// privacy.ErrNotFound), and when the processor changed or was removed
// since it was asked (privacy.ErrStale). The ledger names the approver,
// who asked, why, and the domains, never an address.
func (o *Operator) ApproveProcessorAsk(ctx context.Context, c Caller, id, reason string) (ProcessorView, error) {
	if err := decision(c, "processor approve", id); err != nil {
		return ProcessorView{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return ProcessorView{}, fmt.Errorf("%w: a reason is required: the audit records what you checked before approving", ErrBadRequest)
	}
	if err := privacy.CheckLine("reason", reason, privacy.MaxDetails); err != nil {
		return ProcessorView{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	asks, err := o.Store.ProcessorAsks(ctx)
	if err != nil {
		return ProcessorView{}, err
	}
	i := slices.IndexFunc(asks, func(a privacy.ProcessorAsk) bool { return a.ID == id })
	if i < 0 {
		return ProcessorView{}, fmt.Errorf("no processor ask %s waiting (approved, replaced by a newer ask, or lapsed): %w", id, privacy.ErrNotFound)
	}
	a := asks[i]
	now := o.Now().UTC()
	if err := secondMember(a.AskedBy, c, "this"); err != nil {
		return ProcessorView{}, err
	}
	if a.Lapsed(now) {
		return ProcessorView{}, fmt.Errorf("processor ask %s lapsed (not approved within %s); ask again: %w", id,
			privacy.ProcessorAskLapses, privacy.ErrNotFound)
	}
	detail := map[string]string{"ask_id": a.ID, "asked_by": a.AskedBy, "asked_reason": a.Reason}
	name := privacy.EventName("processor_added")
	p := a.Processor
	switch a.Kind {
	case privacy.ProcessorAskAdd:
		detail["name"], detail["url"], detail["identity_format"] = p.Name, p.URL, p.IdentityFormat
		if p.URL != "" {
			detail["host"] = privacy.HostOf(p.URL)
		}
		detail["contact_domain"] = domainOf(p.Contact)
		if p.URL == "" {
			detail["told_by"] = "email"
		}
	case privacy.ProcessorAskContact:
		name = "processor_contact_changed"
		detail["contact_domain"], detail["previous_contact_domain"] = domainOf(p.Contact), domainOf(a.Was)
		cur, err := o.processor(ctx, p.ID)
		if err != nil {
			return ProcessorView{}, fmt.Errorf("the processor of ask %s was removed since: %w", id, privacy.ErrStale)
		}
		if cur.Contact != a.Was {
			return ProcessorView{}, fmt.Errorf("processor %s's contact changed since ask %s: %w", p.ID, id, privacy.ErrStale)
		}
		p.URL, p.IdentityFormat, p.Types = cur.URL, cur.IdentityFormat, cur.Types
	}
	if err := o.Store.ApproveProcessorAsk(ctx, a, o.teamEvent(ctx, c, name, p.ID, reason, detail)); err != nil {
		return ProcessorView{}, err
	}
	return processorView(p), nil
}
