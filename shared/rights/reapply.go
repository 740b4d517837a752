package rights

import (
	"context"
	"fmt"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// ReapplyStore is what re-applying erasures reads and deletes.
type ReapplyStore interface {
	ErasedSubjects(ctx context.Context, since time.Time) ([]privacy.Erasure, error)
	EraseBefore(ctx context.Context, subject privacy.SubjectID, before time.Time, requestID string, e privacy.Event) (withheld bool, deleted int, err error)
	ErasedControllerSubjects(ctx context.Context, since time.Time) ([]privacy.RightsRequest, error)
	EraseKeyedRecords(ctx context.Context, controller string, keys []string) (int, error)
}

// reapplyRef is the ledger ref of a re-applied erasure: its own entry,
// which a later run does not count as data found again.
const reapplyRef = "erasure-reapplied"

// ReapplyReport counts what a run found and deleted again.
type ReapplyReport struct {
	Subjects           int `json:"erased_subjects"`
	Deleted            int `json:"items_deleted_again"`
	Withheld           int `json:"withheld_by_a_legal_hold"`
	ControllerErasures int `json:"controller_erasures"`
	ControllerRecords  int `json:"controller_records_deleted_again"`
}

// ReapplyErasures erases again, by key, everyone erased since (all when
// zero): every subject the suppression list says was erased (the site's
// erasures) and every person a controller had erased (completed OpenDSR
// erasures). After a point-in-time restore of the other tables brings
// them back, this makes the erasures hold again. It is idempotent: a run
// interrupted is finished by running it again, and a second run deletes
// nothing more. Each subject's ledger keeps one entry of it, with no
// address.
func ReapplyErasures(ctx context.Context, st ReapplyStore, since, now time.Time, policyVersion string) (ReapplyReport, error) {
	var rep ReapplyReport
	erasures, err := st.ErasedSubjects(ctx, since)
	if err != nil {
		return rep, err
	}
	for _, er := range erasures {
		// A person who asked anew after the erasure keeps what they gave
		// since: only what is older than the erasure goes again.
		var before time.Time
		if er.Lifted {
			before = er.At
		}
		withheld, n, err := st.EraseBefore(ctx, er.Subject, before, reapplyRef, privacy.Event{Subject: er.Subject,
			Name: "erasure_reapplied", At: now, Ref: reapplyRef, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion})
		if err != nil {
			return rep, fmt.Errorf("reapply erasure: %w", err)
		}
		rep.Subjects++
		rep.Deleted += n
		if withheld {
			rep.Withheld++
		}
	}
	reqs, err := st.ErasedControllerSubjects(ctx, since)
	if err != nil {
		return rep, err
	}
	for _, r := range reqs {
		n, err := st.EraseKeyedRecords(ctx, r.Controller, r.IdentityKeys)
		if err != nil {
			return rep, fmt.Errorf("reapply a controller's erasure: %w", err)
		}
		rep.ControllerErasures++
		rep.ControllerRecords += n
	}
	return rep, nil
}
