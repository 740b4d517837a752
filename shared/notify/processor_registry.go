package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// KindProcessorRegistry tells the team inbox of a change of the
// processors' registry seen on the ops table's stream, whoever made it
// (privacy.ProcessorChange): an approved change the team knows of, or one
// made around the two-member rule, which this email is there to show.
const KindProcessorRegistry = "processor_registry_changed"

// ProcessorRegistryChange is what the team is told of one change.
type ProcessorRegistryChange struct {
	ID, Name string
	// Change is privacy.ProcessorChange.Kind.
	Change string
	At     time.Time
	// Contact is the address the processor's emails now go to: the
	// team's own business contact of a company, shown in full so that a
	// change within one domain is seen; the former address is named by
	// its domain (it is told itself, FormerTold).
	Contact                              string
	ContactDomain, PreviousContactDomain string
	Host, PreviousHost                   string
	// Fields are the other attributes that changed (credentials,
	// certificate, types...), named, never shown.
	Fields []string
	// FormerTold: the former contact address is emailed that it changed.
	FormerTold bool
	// Again: a registration of an id the stream saw removed before.
	Again bool
	// Expired: a removal by the table's TTL.
	Expired bool
	// Replayed: privacyctl replay's mark of a change the stream gave up
	// on; the email tells the item as it now is.
	Replayed bool
	// Ref is the stream record's sequence number, which the ledger's
	// processor_change_observed entry names.
	Ref string
}

// What says the change in words.
func (n ProcessorRegistryChange) What() string {
	switch n.Change {
	case privacy.ProcessorAdded:
		if n.Again {
			return "registered again after its removal"
		}
		return "registered"
	case privacy.ProcessorRemoved:
		return "removed"
	case privacy.ProcessorContactChanged:
		return "privacy contact address changed"
	case privacy.ProcessorChanged:
		return "registration changed"
	}
	return "registration written again, unchanged"
}

// ProcessorRegistryChanged renders the team's email of n.
func ProcessorRegistryChanged(c Config, n ProcessorRegistryChange) (Message, error) {
	n.ID, n.Name, n.Contact = oneLine(n.ID), oneLine(n.Name), oneLine(n.Contact)
	n.ContactDomain, n.PreviousContactDomain = oneLine(n.ContactDomain), oneLine(n.PreviousContactDomain)
	n.Host, n.PreviousHost = oneLine(n.Host), oneLine(n.PreviousHost)
	for i, f := range n.Fields {
		n.Fields[i] = oneLine(f)
	}
	subj := fmt.Sprintf("Processor %s: %s", n.ID, n.What())
	text, html, err := render(DefaultLang, KindProcessorRegistry, subj, struct {
		Config
		ProcessorRegistryChange
		What string
	}{c, n, n.What()})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindProcessorRegistry, To: []string{c.TeamInbox}, Subject: subj, Text: text, HTML: html}, nil
}

// oneLine is s without control or format characters (a value written
// around the operator's checks: line breaks, bidi overrides that reverse
// what a reader sees; review 12), at most 200 characters.
func oneLine(s string) string {
	s = strings.Join(strings.FieldsFunc(s, hidden), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// hidden reports a control or format character (Unicode Cc, Cf).
func hidden(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }
