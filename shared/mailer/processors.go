package mailer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Registry is what the mailer keeps of the processors' registry changes
// it sees on the ops table's stream: their ledger entries, and the
// contact of a processor removed, for a registration of the same id that
// follows (dynamo.Store). Nothing of it is writable by the operator's
// role, so nothing it holds can make a change quiet.
type Registry interface {
	// RecordProcessorChange writes c's processor_change_observed entry,
	// once (a record delivered again finds it there).
	RecordProcessorChange(ctx context.Context, c privacy.ProcessorChange, seq string, now time.Time) error
	// RememberContact keeps the last contact a processor was seen to
	// have (what waits for it after a removal goes there).
	RememberContact(ctx context.Context, id, contact string, at time.Time) error
	// LastContact is that contact, "" when none was kept.
	LastContact(ctx context.Context, id string) (string, error)
}

// Watch is the mailer with the ops table's stream: every change of the
// processors' registry (a PROC# item added, changed, removed; a
// delete-then-put of the same id) is told to the team inbox, to the
// former contact address when the contact changed, and to the ledger,
// whoever wrote it (docs/security.md, review 10). The approval of a
// contact change writes no notice of its own: this is the one telling, so
// nothing is told twice, and no writer of the registry can skip it. The
// other streams' changes go to the Mailer.
type Watch struct {
	*Mailer
	Registry Registry
}

// Handle processes one stream batch: a registry change here, any other
// change by the Mailer. Registry changes are handled in order and the
// first that fails stops the batch there (it and every registry change
// after it are reported failed): a removal is always handled before the
// registration that follows it. A failure is retried by the stream, then
// goes to the failure queue (privacyctl replay), never to the mail retry
// queue, which re-reads the item and could not know what changed.
func (w *Watch) Handle(ctx context.Context, changes []privacy.Change) (failed []string) {
	stopped := false
	for _, ch := range changes {
		if ch.Processor == nil {
			failed = append(failed, w.Mailer.Handle(ctx, []privacy.Change{ch})...)
			continue
		}
		if stopped {
			failed = append(failed, ch.Seq)
			continue
		}
		log := w.Log.With("seq", ch.Seq, "processor_id", ch.Processor.ID, "change", ch.Processor.Kind())
		if err := w.processorChange(ctx, log, ch); err != nil {
			log.WarnContext(ctx, "registry change failed; the stream retries it", "error", err.Error())
			failed, stopped = append(failed, ch.Seq), true
		}
	}
	return failed
}

// processorChange tells ch: its ledger entry first (nothing that fails
// after it skips it), the removed processor's contact kept, then the
// team's email and the former contact's, each sent once per change.
func (w *Watch) processorChange(ctx context.Context, log *slog.Logger, ch privacy.Change) error {
	p := *ch.Processor
	if p.At.IsZero() {
		p.At = w.Now().UTC()
	}
	kind := p.Kind()
	if kind == privacy.ProcessorUnchanged && !ch.Replayed {
		log.InfoContext(ctx, "registry item written unchanged; nothing to tell")
		return nil
	}
	n := notify.ProcessorRegistryChange{ID: p.ID, Change: kind, At: p.At, Fields: p.Fields(), Expired: p.Expired,
		Replayed: ch.Replayed, Ref: ch.Seq}
	var former, now string
	if p.Before != nil {
		n.Name, former = p.Before.Name, p.Before.Contact
		n.PreviousContactDomain, n.PreviousHost = privacy.DomainOf(former), privacy.HostOf(p.Before.URL)
	}
	if p.After != nil {
		n.Name, now = p.After.Name, p.After.Contact
		n.Contact, n.ContactDomain, n.Host = now, privacy.DomainOf(now), privacy.HostOf(p.After.URL)
	}
	if kind == privacy.ProcessorAdded {
		// A delete-then-put of the same id is a change of its contact as
		// surely as an update is: the contact it had when removed.
		was, err := w.Registry.LastContact(ctx, p.ID)
		if err != nil {
			return err
		}
		if was != "" {
			n.Again, former, n.PreviousContactDomain = true, was, privacy.DomainOf(was)
		}
	}
	if err := w.Registry.RecordProcessorChange(ctx, p, ch.Seq, w.Now()); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	// The last contact seen: what waits for the processor once removed
	// goes there, and a registration after a removal tells it.
	if last := cmp.Or(now, former); last != "" {
		if err := w.Registry.RememberContact(ctx, p.ID, last, p.At); err != nil {
			return err
		}
	}
	c := w.config(ctx)
	tellFormer := former != "" && now != "" && former != now && kind != privacy.ProcessorRemoved
	n.FormerTold = tellFormer
	team, err := notify.ProcessorRegistryChanged(c, n)
	if err != nil {
		return fmt.Errorf("the team's email: %w", err)
	}
	if _, err := w.sendOnce(ctx, log, changeKey(ch, team.Kind), team); err != nil {
		return fmt.Errorf("%s: %w", team.Kind, err)
	}
	if !tellFormer {
		return nil
	}
	// The former contact knows the processor by the name it had, not the
	// one the same write may have given it (review 12).
	name := n.Name
	if p.Before != nil && p.Before.Name != "" {
		name = p.Before.Name
	}
	msg, err := notify.ContactChanged(c, privacy.ContactNotice{ProcessorID: p.ID, ProcessorName: name, To: former,
		NewDomain: privacy.DomainOf(now), ChangedAt: p.At})
	if err != nil {
		return fmt.Errorf("the former contact's email: %w", err)
	}
	if _, err := w.sendOnce(ctx, log, changeKey(ch, msg.Kind), msg); err != nil {
		return fmt.Errorf("%s: %w", msg.Kind, err)
	}
	return nil
}

// changeKey names one email of one registry change: its stream and
// sequence number (every change its own, even of one processor), hashed.
func changeKey(ch privacy.Change, kind string) string {
	h := sha256.New()
	for _, part := range []string{"processor_registry", ch.Source, ch.Seq, kind} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
