package privacy

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// ProcessorChange is a change of the processors' registry as the ops
// table's stream shows it (a PROC# item written or removed), whoever
// wrote it: the team's approved ask, or anything else that runs as a role
// allowed to write the item. It is derived from the item's images alone,
// so that no writer can change a processor quietly (docs/security.md,
// review 10): the mailer tells the team inbox and, when the contact
// address changed, the former address, and writes the ledger's
// EventProcessorChangeObserved.
type ProcessorChange struct {
	ID string
	// Before and After are the item before and after the change: Before
	// nil for a registration, After nil for a removal. Only what the
	// telling needs is read (no credentials, no certificate: their change
	// is named, not shown).
	Before, After *ProcessorImage
	// At is when the stream recorded the change.
	At time.Time
	// Expired is a removal by the table's TTL (a registration never
	// carries an expiry: something wrote one).
	Expired bool
}

// ProcessorImage is what the telling reads of a processor's item.
type ProcessorImage struct {
	Name, URL, Contact string
	// Sums are the other attributes of the item, each as a short digest
	// of its value (credentials, certificate, types, identity format...):
	// a change of any of them is named, never shown.
	Sums map[string]string
}

// Ways a processor's registry item changes.
const (
	ProcessorAdded          = "added"
	ProcessorRemoved        = "removed"
	ProcessorContactChanged = "contact_changed"
	ProcessorChanged        = "changed"
	// ProcessorUnchanged is a write that changed nothing the telling
	// reads, such as privacyctl replay's mark (a change the stream gave
	// up on: the mailer then tells the item as it now is).
	ProcessorUnchanged = "unchanged"
)

// EventProcessorChangeObserved is the ledger event of a change of the
// processors' registry seen on the ops table's stream (the mailer's, in
// the system partition LedgerProcessorsPK): the team's own entries
// (processor_added, processor_contact_changed, processor_removed) say who
// decided; this one says what the table shows happened, whoever wrote it.
const EventProcessorChangeObserved EventName = "processor_change_observed"

// Kind is how the processor changed: added, removed, contact_changed (its
// contact address is another), changed (another attribute), or unchanged.
func (c ProcessorChange) Kind() string {
	switch {
	case c.Before == nil:
		return ProcessorAdded
	case c.After == nil:
		return ProcessorRemoved
	case c.Before.Contact != c.After.Contact:
		return ProcessorContactChanged
	case len(c.Fields()) > 0:
		return ProcessorChanged
	}
	return ProcessorUnchanged
}

// Fields names the attributes that differ between Before and After
// (sorted), for a change of a registered processor; none for a
// registration or a removal.
func (c ProcessorChange) Fields() []string {
	if c.Before == nil || c.After == nil {
		return nil
	}
	var out []string
	if c.Before.Name != c.After.Name {
		out = append(out, "name")
	}
	if c.Before.URL != c.After.URL {
		out = append(out, "url")
	}
	if c.Before.Contact != c.After.Contact {
		out = append(out, "contact_email")
	}
	for k, v := range c.Before.Sums {
		if w, ok := c.After.Sums[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range c.After.Sums {
		if _, ok := c.Before.Sums[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// HostOf is an OpenDSR URL's host, the part an approver confirms and
// where its requests go ("" for none): what the team's views, emails and
// the ledger show of a processor's URL.
func HostOf(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable url)"
	}
	return u.Host
}

// DomainOf is the domain of address (after its last "@", where mail to it
// goes), "" when it has none: what the ledger and an outside address are
// told of a contact, never the address.
func DomainOf(address string) string {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return ""
	}
	return address[i+1:]
}
