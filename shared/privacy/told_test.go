package privacy

import "testing"

// What a requester reads of each processor follows its state and the
// request's type: a restriction confirmed is not called an erasure.
func TestRecipientsToldByType(t *testing.T) {
	for _, tc := range []struct {
		typ         Right
		state, want string
	}{
		{RightErasure, RecipientCompleted, "asked; they have confirmed the erasure"},
		{RightRestriction, RecipientCompleted, "asked; they have confirmed it done"},
		{RightRectification, RecipientCompleted, "asked; they have confirmed it done"},
		{RightRestriction, RecipientEmailed, "asked by email; waiting for their confirmation"},
		{RightErasure, RecipientEmailed, "asked by email; waiting for their confirmation"},
	} {
		r := RightsRequest{Type: tc.typ, Recipients: map[string]Recipient{"p": {Name: "Drift", State: tc.state}}}
		if got := r.RecipientsTold(); len(got) != 1 || got[0].Status != tc.want {
			t.Errorf("%s %s: %+v, want %q", tc.typ, tc.state, got, tc.want)
		}
	}
}
