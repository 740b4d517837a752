package operator

import (
	"context"
	"errors"
	"testing"
)

// The adapter turns a name into a method, and the method decides who may:
// an unknown name, a viewer's decision and a caller without an identity
// are refused before anything is read (the operator here has no store).
func TestDispatch(t *testing.T) {
	o := &Operator{}
	team, viewer := Caller{By: "arn:aws:iam::000000000000:user/dpo", MayDecide: true}, Caller{By: "viewer@example.com"}
	for _, tc := range []struct {
		name string
		c    Caller
		r    Request
		want error
	}{
		{"an unknown action", team, Request{Action: "erase-everyone"}, ErrBadRequest},
		{"a viewer may not place a hold", viewer, Request{Action: "hold add", Args: Args{Email: "ann@example.com", Reason: "x"}}, ErrForbidden},
		{"a viewer may not approve", viewer, Request{Action: "approve", ID: "r-1"}, ErrForbidden},
		{"nobody may read", Caller{MayDecide: true}, Request{Action: "processor list"}, ErrForbidden},
		{"approve needs an id", team, Request{Action: "approve"}, ErrBadRequest},
		{"retention needs days", team, Request{Action: "opendsr-retention", ID: "c-1"}, ErrBadRequest},
		{"a policy needs its day", team, Request{Action: "policy publish", Args: Args{Version: "v2"}}, ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := o.dispatch(context.Background(), tc.c, tc.r); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
