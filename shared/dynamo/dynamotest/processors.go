// Package dynamotest holds what tests need of the store that no function
// may do: registering a processor or changing its privacy contact in one
// step, by one caller. The code asks and approves through two team
// members (operator.AddProcessor, ChangeProcessorContact,
// ApproveProcessorAsk); these helpers take the store's half of that path
// (dynamo.Store.AskProcessor, then ApproveProcessorAsk) for tests that
// need a processor registered, not the rule.
package dynamotest

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// askEvent is the ask's ledger entry, from e (the registration's or the
// change's).
func askEvent(e privacy.Event, name privacy.EventName) privacy.Event {
	e.Name = name
	return e
}

// askID is a test ask's id, one per processor and time.
func askID(id string, e privacy.Event) string {
	return "test-" + id + "-" + strconv.FormatInt(e.At.UnixNano(), 36)
}

// PutProcessor registers p at e.At, with e in the ledger, as an
// approved registration does.
func PutProcessor(ctx context.Context, st *dynamo.Store, p privacy.Processor, e privacy.Event) error {
	a := privacy.ProcessorAsk{ID: askID(p.ID, e), Kind: privacy.ProcessorAskAdd, Processor: p, AskedBy: "test", AskedAt: e.At,
		Reason: "test"}
	if err := st.AskProcessor(ctx, a, askEvent(e, "processor_add_asked")); err != nil {
		return err
	}
	return st.ApproveProcessorAsk(ctx, a, e)
}

// SetProcessorContact changes registered processor id's contact at e.At,
// with e in the ledger, as an approved change does (without the former
// contact's notice); privacy.ErrNotFound when it is not registered.
func SetProcessorContact(ctx context.Context, st *dynamo.Store, id, contact string, e privacy.Event) error {
	procs, err := st.Processors(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(procs, func(p privacy.Processor) bool { return p.ID == id })
	if i < 0 {
		return fmt.Errorf("processor %s: %w", id, privacy.ErrNotFound)
	}
	p := procs[i]
	a := privacy.ProcessorAsk{ID: askID(id, e), Kind: privacy.ProcessorAskContact, Was: p.Contact, AskedBy: "test", AskedAt: e.At,
		Reason: "test", Processor: privacy.Processor{ID: id, Name: p.Name, Contact: contact}}
	if err := st.AskProcessor(ctx, a, askEvent(e, "processor_contact_change_asked")); err != nil {
		return err
	}
	return st.ApproveProcessorAsk(ctx, a, e)
}
