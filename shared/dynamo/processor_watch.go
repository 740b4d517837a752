package dynamo

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// LedgerProcessorsPK is the ledger's system partition of the changes of
// the processors' registry the mailer observed on the ops table's stream
// (privacy.EventProcessorChangeObserved). Only the mailer's role may
// write it; the internet-facing functions and the operator are denied
// every "SYSTEM#*" partition (template.yaml).
const LedgerProcessorsPK = "SYSTEM#processors"

// ProcessorSeenPK is the ops partition of the last contact address the
// mailer saw a processor have on the ops table's stream (sk its id,
// contact_email and seen_at): a registration of the same id that follows
// a removal tells that address that the contact changed, as a contact
// change does, and what waits for a removed processor goes to it
// (ProcessorContact). The mailer's alone: under "PROC#*", which every
// internet-facing function is denied to write, and not among the
// operator's partitions (PROC#, PROC#ASK), so no writer of the registry
// can make a delete-then-put, or where a removed processor's mail goes,
// quiet.
const ProcessorSeenPK = "PROC#SEEN"

// decodeProcessorChange sets c.Processor from a PROC# item's images.
// Nothing written to the item can make it fail: what is not a string is
// read as none, and any attribute other than the name, url and contact is
// compared by a digest of its value.
func decodeProcessorChange(c *privacy.Change, oldImage, newImage map[string]types.AttributeValue) {
	p := &privacy.ProcessorChange{ID: c.SK, At: c.At, Expired: c.Expired, Before: processorImage(oldImage)}
	if !c.Removed {
		p.After = processorImage(newImage)
	}
	c.Kind, c.Processor = "processor", p
}

// processorImage is what the telling reads of a processor item; nil for
// none.
func processorImage(item map[string]types.AttributeValue) *privacy.ProcessorImage {
	if item == nil {
		return nil
	}
	img := &privacy.ProcessorImage{Name: s1(item, "name"), URL: s1(item, "url"), Contact: s1(item, "contact_email"),
		Sums: map[string]string{}}
	for k, v := range item {
		switch k {
		case attrPK, attrSK, "name", "url", "contact_email", AttrReplayedAt:
			continue
		}
		sum := sha256.Sum256([]byte(typed(v)))
		img.Sums[k] = hex.EncodeToString(sum[:8])
	}
	return img
}

// ProcessorChangeObserved is the ledger event of c seen at seq on the
// stream: the processor, the change, the contact's domains (never the
// address), the url's hosts, the names of the other attributes changed.
func ProcessorChangeObserved(c privacy.ProcessorChange, seq string) privacy.Event {
	d := map[string]string{"change": c.Kind(), "stream_seq": seq, "observed": "ops table stream"}
	var name string
	if c.After != nil {
		name = c.After.Name
		d["contact_domain"], d["host"] = privacy.DomainOf(c.After.Contact), privacy.HostOf(c.After.URL)
	}
	if c.Before != nil {
		name = cmp.Or(name, c.Before.Name)
		d["previous_contact_domain"], d["previous_host"] = privacy.DomainOf(c.Before.Contact), privacy.HostOf(c.Before.URL)
	}
	d["name"] = bounded(name, 200)
	if f := c.Fields(); len(f) > 0 {
		d["fields"] = bounded(strings.Join(f, ","), 1000)
	}
	d["contact_domain"], d["previous_contact_domain"] = bounded(d["contact_domain"], 255), bounded(d["previous_contact_domain"], 255)
	d["host"], d["previous_host"] = bounded(d["host"], 255), bounded(d["previous_host"], 255)
	if c.Expired {
		d["removed_by"] = "the table's TTL"
	}
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
	return privacy.Event{Subject: "processors", Name: privacy.EventProcessorChangeObserved, At: c.At, Ref: boundedID(c.ID),
		LegalBasis: privacy.BasisLegalObligation, Detail: d}
}

// boundedID is a processor id as a ledger key and ref hold it: itself, or
// for one longer than any the operator registers (a UUID) a digest of it,
// so that no item written to the registry makes its entry's key too long
// for DynamoDB (1,024 bytes) and its record fail for ever, holding up
// every change after it (review 12).
func boundedID(id string) string {
	if len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// bounded is s cut to at most n bytes (on a rune boundary) for a
// detail, with a mark that it was cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// RecordProcessorChange writes c's ledger entry (ProcessorChangeObserved)
// in LedgerProcessorsPK: its sort key the change's time, event, processor
// and stream sequence number, so a record delivered again finds it there
// (a conditional put: done, left as it is); sealed with now's day, the day
// it is written.
func (s *Store) RecordProcessorChange(ctx context.Context, c privacy.ProcessorChange, seq string, now time.Time) error {
	e := ProcessorChangeObserved(c, seq)
	item, err := ledgerItem(e)
	if err != nil {
		return err
	}
	delete(item, "subject")
	item[attrPK], item[attrSK] = str(LedgerProcessorsPK), str(ts(e.At)+"#"+string(e.Name)+"#"+e.Ref+"#"+bounded(seq, 64))
	return s.putOnce(ctx, item, e.Name, now)
}

// RememberContact keeps contact, the address processor id had in the
// change seen at at (its registration or contact change; before its
// removal), for a registration of the same id that may follow a removal
// (LastContact) and for what waits for it once removed
// (ProcessorContact).
func (s *Store) RememberContact(ctx context.Context, id, contact string, at time.Time) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: map[string]types.AttributeValue{
		attrPK: str(ProcessorSeenPK), attrSK: str(id), "contact_email": str(contact), "seen_at": str(ts(at))}})
	if err != nil {
		return fmt.Errorf("remember processor's contact: %w", err)
	}
	return nil
}

// LastContact is the last contact address the mailer saw processor id
// have, "" when it saw none.
func (s *Store) LastContact(ctx context.Context, id string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops,
		Key:                  map[string]types.AttributeValue{attrPK: str(ProcessorSeenPK), attrSK: str(id)},
		ProjectionExpression: aws.String("contact_email"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("removed processor's contact: %w", err)
	}
	return s1(out.Item, "contact_email"), nil
}
