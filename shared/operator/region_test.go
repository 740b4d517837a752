package operator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A controller is registered with a region, by the stack of that region
// only, under an id that names it; the region of a controller registered
// before regions is recorded once, by the team, and never changed.
func TestControllerRegion(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	team := operator.Caller{By: "arn:aws:iam::000000000000:user/dpo", MayDecide: true}
	viewer := operator.Caller{By: "arn:aws:iam::000000000000:user/auditor"}
	for _, c := range []struct{ region, want string }{
		{"", "region is required"}, {"ap", "region is required"}, {"eu", "this stack serves region us"},
	} {
		if _, err := op.IssueController(ctx, team, "Acme", c.region, ""); !errors.Is(err, operator.ErrBadRequest) ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("issue with region %q: %v, want %q", c.region, err, c.want)
		}
	}
	creds, err := op.IssueController(ctx, team, "Acme", "us", "contract")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := privacy.IDRegion(creds.ControllerID); !ok || r != privacy.RegionUS {
		t.Fatalf("id %q names no region us", creds.ControllerID)
	}
	if c, err := store.LookupController(ctx, creds.ControllerID); err != nil || c.Region != privacy.RegionUS {
		t.Fatalf("stored: %+v %v", c, err)
	}
	const legacy = "4e1b2c3d-0000-4000-8000-00000000000a"
	if err := store.PutController(ctx, privacy.Controller{ID: legacy, Name: "Old", SecretHash: "x"}, privacy.Event{At: op.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		who        operator.Caller
		id, region string
		want       error
	}{
		{"a viewer", viewer, legacy, "eu", operator.ErrForbidden},
		{"no region", team, legacy, "", operator.ErrBadRequest},
		{"a region its id names", team, creds.ControllerID, "eu", privacy.ErrExists},
		{"no such controller", team, "4e1b2c3d-0000-4000-8000-00000000000b", "eu", privacy.ErrNotFound},
		{"recorded", team, legacy, "eu", nil},
		{"changed", team, legacy, "us", privacy.ErrExists},
	} {
		if err := op.SetControllerRegion(ctx, c.who, c.id, c.region, "the client's contract"); !errors.Is(err, c.want) || c.want == nil && err != nil {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	cs, err := op.Controllers(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.ID] = c.Region
	}
	if got[legacy] != "eu" || got[creds.ControllerID] != "us" {
		t.Errorf("listed regions %v", got)
	}
	if c, err := store.LookupController(ctx, legacy); err != nil || c.Region != privacy.RegionEU {
		t.Errorf("the legacy controller's credential: %+v %v", c, err)
	}
}
