package privacy

import (
	"slices"
	"testing"
	"time"
)

func TestPlanErasure(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	lifted := now.Add(-48 * time.Hour) // a lifted erasure's day
	old, later := lifted.Add(-time.Hour), lifted.Add(time.Hour)
	inForce, ended := &Hold{Reason: "litigation"}, &Hold{Reason: "audit", Until: now.Add(-time.Hour)}
	items := []Held{
		{SK: "INQ#1", Clock: old},              // 0: the person's, old
		{SK: "SUB", Clock: later},              // 1: signed up again after the lifted erasure
		{SK: HoldRestriction, Clock: old},      // 2: a restriction: an erasure ends it
		{SK: HoldLegal, Hold: ended},           // 3: an ended legal hold: the team's
		{SK: HoldPrefix + "OTHER", Clock: old}, // 4: another hold of the team's
		{SK: "NOTICE#v1#x"},                    // 5: no clock: counts as old
	}
	ledger := []Held{
		{SK: "1", Clock: old, Ref: "other"},
		{SK: "2", Clock: later, Ref: "other"},
		{SK: "3", Clock: now, Ref: "req-this"}, // written by this request
	}
	reqs := []RightsRequest{{ID: "req-this", ReceivedAt: now}, {ID: "req-old", ReceivedAt: old},
		{ID: "req-later", ReceivedAt: later}, {ID: "req-undated"}}

	for _, c := range []struct {
		name   string
		items  []Held
		before time.Time
		want   ErasurePlan
	}{
		{"an erasure the person asked: everything of theirs, the restriction too", items, time.Time{}, ErasurePlan{
			Items: []int{0, 1, 2, 5}, Ledger: []int{0, 1, 2}, Strip: []string{"req-old", "req-later", "req-undated"},
			Suppress: true, Deleted: 4 + 3 - 1}},
		{"a lifted erasure re-applied: only what is older, no new suppression", items, lifted, ErasurePlan{
			Items: []int{0, 2, 5}, Ledger: []int{0}, Strip: []string{"req-old", "req-undated"}, Deleted: 3 + 1}},
		{"a legal hold in force: nothing", append(slices.Clone(items), Held{SK: HoldLegal, Hold: inForce}), time.Time{},
			ErasurePlan{Withheld: true}},
		{"a hold until a day still to come: nothing", []Held{{SK: "INQ#1"}, {SK: HoldLegal, Hold: &Hold{Until: now.Add(time.Hour)}}},
			time.Time{}, ErasurePlan{Withheld: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := PlanErasure(c.items, ledger, reqs, c.before, "req-this", now)
			if got.Withheld != c.want.Withheld || !slices.Equal(got.Items, c.want.Items) || !slices.Equal(got.Ledger, c.want.Ledger) ||
				!slices.Equal(got.Strip, c.want.Strip) || got.Suppress != c.want.Suppress || got.Deleted != c.want.Deleted {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
