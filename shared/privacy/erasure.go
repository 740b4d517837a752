package privacy

import (
	"strings"
	"time"
)

// Held is one item an erasure weighs: a subject's item (sk its sort key)
// or ledger entry, with its first clock (zero when it has none), the ref a
// ledger entry names, and the hold it is when it is the legal hold item.
type Held struct {
	SK    string
	Clock time.Time
	Ref   string
	Hold  *Hold
}

// ErasurePlan is what an erasure of a subject does, decided from what is held
// (PlanErasure); the store carries it out.
type ErasurePlan struct {
	// Withheld: a legal hold is in force, and nothing is done.
	Withheld bool
	// Items and Ledger are the indexes of the items and ledger entries
	// to delete.
	Items, Ledger []int
	// Strip are the requests whose address and details go now.
	Strip []string
	// Suppress: the address is suppressed for marketing as erased (an
	// erasure the person asked). A lifted erasure re-applied leaves the
	// suppression as the person's later signup left it, and is recorded.
	Suppress bool
	// Deleted counts what was held before this request: every item and
	// entry deleted but the ledger entries the request wrote itself.
	Deleted int
}

// PlanErasure decides the erasure of what is older than before (all when
// before is zero) under request requestID at now: under a legal hold in
// force, nothing; else every item but the team's holds (an erasure ends
// a restriction) and what the person gave after before (a lifted
// erasure's later signup stays when a restore's erasure is re-applied);
// every ledger entry older than before; the address of every other
// request received before before (this request's goes once its
// completion email is sent).
func PlanErasure(items, ledger []Held, reqs []RightsRequest, before time.Time, requestID string, now time.Time) ErasurePlan {
	newer := func(t time.Time) bool { return !before.IsZero() && !t.IsZero() && !t.Before(before) }
	var p ErasurePlan
	for i, it := range items {
		switch {
		case it.SK == HoldLegal && it.Hold != nil && it.Hold.InForce(now):
			return ErasurePlan{Withheld: true}
		case it.SK == HoldLegal:
			continue // a hold that has ended: the team's item, not the person's data
		case strings.HasPrefix(it.SK, HoldPrefix) && it.SK != HoldRestriction:
			continue // the team's, not the person's data
		case newer(it.Clock):
			continue
		}
		p.Items = append(p.Items, i)
	}
	own := 0
	for i, e := range ledger {
		if newer(e.Clock) {
			continue
		}
		p.Ledger = append(p.Ledger, i)
		if e.Ref == requestID {
			own++
		}
	}
	for _, r := range reqs {
		if r.ID == requestID || newer(r.ReceivedAt) {
			continue
		}
		p.Strip = append(p.Strip, r.ID)
	}
	p.Suppress = before.IsZero()
	p.Deleted = len(p.Items) + len(p.Ledger) - own
	return p
}
