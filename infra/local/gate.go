package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// principal is who makes an AWS call of the local stack: a function, with
// the temporary credentials of its role as Lambda gives them, or a
// development IAM user.
type principal struct {
	name string // the function's logical id, or the user's ARN
	// arn is what AWS's refusals name: the role's session
	// (arn:aws:sts::<account>:assumed-role/<role>/<function>) or the user.
	arn      string
	policies *iamsim.Set
	keyID    string
	key      credential
}

// gate holds the stack's principals and decides each of their requests
// with the evaluator, logging every refusal: who, the action, the
// resource, and the statements that could have allowed it and why they
// did not (or the Deny that matched).
type gate struct {
	eval       *iamsim.Evaluator
	byKey      map[string]*principal
	byFunction map[string]*principal
	log        io.Writer
}

func newGate(eval *iamsim.Evaluator, ids *identities, fns []*Function, log io.Writer) (*gate, error) {
	g := &gate{eval: eval, byKey: map[string]*principal{}, byFunction: map[string]*principal{}, log: log}
	for _, f := range fns {
		role := ids.roleOf[f.ID]
		p := &principal{name: f.ID, arn: "arn:aws:sts::000000000000:assumed-role/" + role + "/" + f.ID, policies: ids.roles[role],
			keyID: "ASIALOCAL" + strings.ToUpper(random(11)), key: credential{secret: random(40), token: random(64)}}
		g.byKey[p.keyID] = p
		g.byFunction[f.ID] = p
	}
	for _, u := range DevIdentities() {
		var docs []iamsim.Policy
		for _, name := range u.Policies {
			set := ids.managed[name]
			if set == nil {
				return nil, fmt.Errorf("development user %s holds %s, which the template does not define", u.ARN, name)
			}
			docs = append(docs, set.Policies()...)
		}
		set, err := iamsim.NewSet(docs)
		if err != nil {
			return nil, fmt.Errorf("development user %s: %w", u.ARN, err)
		}
		g.byKey[u.AccessKeyID] = &principal{name: u.ARN, arn: u.ARN, policies: set, keyID: u.AccessKeyID,
			key: credential{secret: u.SecretAccessKey}}
	}
	return g, nil
}

// random is n random hex digits.
func random(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// credentials are the environment a function's runtime gets from Lambda
// for its role: the key, its secret and the session token.
func (g *gate) credentials(fn string) map[string]string {
	p := g.byFunction[fn]
	return map[string]string{"AWS_ACCESS_KEY_ID": p.keyID, "AWS_SECRET_ACCESS_KEY": p.key.secret, "AWS_SESSION_TOKEN": p.key.token}
}

func (g *gate) keyOf(id string) (credential, bool) {
	p, ok := g.byKey[id]
	if !ok {
		return credential{}, false
	}
	return p.key, true
}

// refusal is a denied check: what AWS's AccessDenied message says.
type refusal struct {
	who      *principal
	check    iamsim.Request
	decision iamsim.Decision
}

// Message is AWS's AccessDenied message (the IAM User Guide,
// "Troubleshoot access denied error messages").
func (r *refusal) Message() string {
	why := "because no identity-based policy allows the " + r.check.Action + " action"
	if r.decision.Result == iamsim.ExplicitlyDenied {
		why = "with an explicit deny in an identity-based policy"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", r.who.arn, r.check.Action, r.check.Resource, why)
}

// decide asks each check in turn and returns the first refused (nil when
// all are allowed). An evaluator failure is an error: nothing is allowed
// that was not decided.
func (g *gate) decide(ctx context.Context, who *principal, checks []iamsim.Request) (*refusal, error) {
	for _, c := range checks {
		d, err := g.eval.Decide(ctx, who.policies, who.arn, c)
		if err != nil {
			fmt.Fprintf(g.log, "gateway\tIAM could not decide %s %s on %s: %v\n", who.name, c.Action, c.Resource, err)
			return nil, err
		}
		if !d.Allowed() {
			r := &refusal{who: who, check: c, decision: d}
			g.logRefusal(r)
			return r, nil
		}
	}
	return nil, nil
}

// logRefusal writes one line: who, the action, the resource, the
// request's condition keys (names and values; never an address: no
// ses:Recipients) and why.
func (g *gate) logRefusal(r *refusal) {
	why := strings.Join(r.decision.Explanation, "; ")
	if r.decision.Result != iamsim.ExplicitlyDenied {
		// Implicit: nothing allows it; a Deny whose condition did not
		// match is only a note.
		noAllow := "no statement allows " + r.check.Action + " on this resource"
		if why == "" {
			why = noAllow
		} else {
			why = noAllow + " (" + why + ")"
		}
	}
	var keys []string
	for k, v := range r.check.Context {
		if k == "ses:Recipients" {
			continue
		}
		keys = append(keys, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(keys)
	fmt.Fprintf(g.log, "gateway\tIAM refused %s (%s): %s on %s [%s]: %s: %s\n", r.who.name, r.who.arn, r.check.Action,
		r.check.Resource, strings.Join(keys, " "), r.decision.Result, why)
}

// serviceMay reports whether Lambda, acting with function fn's role (an
// event source mapping reading a stream or polling a queue, a destination
// it sends to), may do each of actions on resource; a refusal is logged
// and returned as an error in the words of AWS's own.
func (g *gate) serviceMay(ctx context.Context, fn, resource string, actions ...string) error {
	who := g.byFunction[fn]
	if who == nil {
		return fmt.Errorf("%s: no role", fn)
	}
	for _, a := range actions {
		r, err := g.decide(ctx, who, []iamsim.Request{{Action: a, Resource: resource}})
		if err != nil {
			return err
		}
		if r != nil {
			return fmt.Errorf("%s: %s", fn, r.Message())
		}
	}
	return nil
}
