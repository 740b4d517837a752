package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// The identity policies the local stack evaluates are the template's as
// AWS sees them: after the SAM transform, where each function without a
// Role of its own has the role SAM makes for it (<Function>Role), with its
// Policies inline, the statements SAM adds for its DeadLetterQueue and
// EventInvokeConfig destinations, and the AWS managed policies SAM
// attaches (AWSLambdaBasicExecutionRole always; AWSLambdaSQSQueueExecutionRole
// and AWSLambdaDynamoDBExecutionRole for SQS and DynamoDB events). The
// transform is SAM's own translator (samtranslator, which cfn-lint ships),
// run by infra/template/transform.py.

//go:embed managed/*.json
var managedPolicies embed.FS

// awsManaged returns the document of an AWS managed policy by its ARN
// (arn:aws:iam::aws:policy/[path/]Name), as AWS publishes it; an unknown
// one is an error: the gateway neither allows nor denies what it cannot
// read.
func awsManaged(arn string) (map[string]any, error) {
	name, ok := strings.CutPrefix(arn, "arn:aws:iam::aws:policy/")
	if !ok {
		return nil, fmt.Errorf("managed policy %s is neither the template's nor AWS's", arn)
	}
	b, err := managedPolicies.ReadFile("managed/" + filepath.Base(name) + ".json")
	if err != nil {
		return nil, fmt.Errorf("the AWS managed policy %s is not known to the local stack (add its document to infra/local/managed/)", arn)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("managed policy %s: %w", arn, err)
	}
	return doc, nil
}

// transforms caches the SAM transform by the template's hash, in the
// process (every stack of a test binary) and in a file under dir (every
// process: the transform takes a second or two).
var transforms struct {
	sync.Mutex
	done map[string]map[string]map[string]any
}

// samTransform returns the resources of the template after the SAM
// transform.
func samTransform(ctx context.Context, root, template, dir string) (map[string]map[string]any, error) {
	src, err := os.ReadFile(template)
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "infra", "template", "transform.py")
	tool, err := os.ReadFile(script)
	if err != nil {
		return nil, fmt.Errorf("SAM transform: %w", err)
	}
	sum := sha256.Sum256(append(src, tool...))
	key := hex.EncodeToString(sum[:12])
	transforms.Lock()
	defer transforms.Unlock()
	if r, ok := transforms.done[key]; ok {
		return r, nil
	}
	cache := filepath.Join(dir, "sam-transform-"+key+".json")
	out, err := os.ReadFile(cache)
	if err != nil {
		cmd := exec.CommandContext(ctx, "python3", script, template)
		cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err = cmd.Output(); err != nil {
			return nil, fmt.Errorf("SAM transform (python3 with the samtranslator cfn-lint installs: pip install cfn-lint): %w\n%s", err, stderr.String())
		}
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(cache, out, 0o644)
		}
	}
	var doc struct{ Resources map[string]map[string]any }
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("SAM transform: %w", err)
	}
	if transforms.done == nil {
		transforms.done = map[string]map[string]map[string]any{}
	}
	transforms.done[key] = doc.Resources
	return doc.Resources, nil
}

// identities are the identity policies of the stack's principals, resolved
// for this stack.
type identities struct {
	// roleOf maps a function to its role's logical id.
	roleOf map[string]string
	// roles and managed hold each role's and each customer managed
	// policy's documents, by logical id.
	roles   map[string]*iamsim.Set
	managed map[string]*iamsim.Set
}

// loadIdentities reads each function's role and each customer managed
// policy from the transformed template and resolves them with r (tables,
// queues, functions and secrets of this stack).
func loadIdentities(resources map[string]map[string]any, r *Resolver, fns []*Function) (*identities, error) {
	ids := &identities{roleOf: map[string]string{}, roles: map[string]*iamsim.Set{}, managed: map[string]*iamsim.Set{}}
	resolved := func(id, what string, doc any) (map[string]any, error) {
		v, err := r.Resolve(doc)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", id, what, err)
		}
		m := asMap(v)
		if m == nil {
			return nil, fmt.Errorf("%s %s: not a policy document", id, what)
		}
		return m, nil
	}
	// Customer managed policies, and the roles each is attached to; also
	// AWS::IAM::Policy resources, which attach inline to their Roles.
	attached := map[string][]iamsim.Policy{}
	for _, id := range sortedIDs(resources) {
		res := resources[id]
		props := asMap(res["Properties"])
		typ := asString(res["Type"])
		if typ != "AWS::IAM::ManagedPolicy" && typ != "AWS::IAM::Policy" {
			continue
		}
		doc, err := resolved(id, "PolicyDocument", props["PolicyDocument"])
		if err != nil {
			return nil, err
		}
		p := iamsim.Policy{Name: id, Document: doc}
		if typ == "AWS::IAM::ManagedPolicy" {
			set, err := iamsim.NewSet([]iamsim.Policy{p})
			if err != nil {
				return nil, err
			}
			ids.managed[id] = set
		}
		for _, role := range asList(props["Roles"]) {
			if ref := refName(role); ref != "" {
				attached[ref] = append(attached[ref], p)
			}
		}
	}
	for _, f := range fns {
		fn := resources[f.ID]
		if asString(fn["Type"]) != "AWS::Lambda::Function" {
			return nil, fmt.Errorf("%s: not a function after the SAM transform", f.ID)
		}
		roleID := getAttID(asMap(fn["Properties"])["Role"])
		role := resources[roleID]
		if roleID == "" || asString(role["Type"]) != "AWS::IAM::Role" {
			return nil, fmt.Errorf("%s: its Role is not an AWS::IAM::Role of the template (the local stack evaluates only those)", f.ID)
		}
		ids.roleOf[f.ID] = roleID
		if ids.roles[roleID] != nil {
			continue
		}
		props := asMap(role["Properties"])
		var policies []iamsim.Policy
		for _, p := range asList(props["Policies"]) {
			pm := asMap(p)
			name := asString(pm["PolicyName"])
			doc, err := resolved(roleID, "policy "+name, pm["PolicyDocument"])
			if err != nil {
				return nil, err
			}
			policies = append(policies, iamsim.Policy{Name: roleID + "/" + name, Document: doc})
		}
		for _, m := range asList(props["ManagedPolicyArns"]) {
			if ref := refName(m); ref != "" {
				set := ids.managed[ref]
				if set == nil {
					return nil, fmt.Errorf("%s: ManagedPolicyArns names %s, not a managed policy of the template", roleID, ref)
				}
				policies = append(policies, set.Policies()...)
				continue
			}
			arn, err := r.Resolve(m)
			if err != nil {
				return nil, fmt.Errorf("%s ManagedPolicyArns: %w", roleID, err)
			}
			doc, err := awsManaged(asString(arn))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", roleID, err)
			}
			policies = append(policies, iamsim.Policy{Name: asString(arn), Document: doc})
		}
		policies = append(policies, attached[roleID]...)
		set, err := iamsim.NewSet(policies)
		if err != nil {
			return nil, err
		}
		ids.roles[roleID] = set
	}
	return ids, nil
}

// refName is the logical id a {"Ref": id} names ("" for anything else).
func refName(v any) string {
	m := asMap(v)
	if len(m) != 1 {
		return ""
	}
	return asString(m["Ref"])
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// IdentityPolicies returns the identity policies of the template's
// principals after the SAM transform: each function's role's, by the
// function's logical id, and each customer managed policy's, by its own.
// They are resolved for a stack in us-east-1 of account 000000000000 whose
// resources are named by their logical ids: a table's ARN is
// arn:aws:dynamodb:us-east-1:000000000000:table/<LogicalId> (its stream's
// that and /stream/2026-01-01T00:00:00.000), a queue's
// arn:aws:sqs:us-east-1:000000000000:<LogicalId>, a function's
// arn:aws:lambda:us-east-1:000000000000:function:<LogicalId>, a secret's
// arn:aws:secretsmanager:us-east-1:000000000000:secret:<LogicalId>-AbCdEf.
// For tests that ask what a role of the template allows.
func IdentityPolicies(ctx context.Context, root, template string) (map[string]*iamsim.Set, error) {
	t, err := ReadTemplate(template)
	if err != nil {
		return nil, err
	}
	r, err := NewResolver(t, DevParams("https://privacy.example.com"), "us-east-1")
	if err != nil {
		return nil, err
	}
	const prefix = "arn:aws:%s:us-east-1:000000000000:"
	for id, res := range t.Resources {
		switch res.Type {
		case "AWS::DynamoDB::Table":
			r.Refs[id] = id
			r.Attrs[id+".Arn"] = fmt.Sprintf(prefix+"table/%s", "dynamodb", id)
			r.Attrs[id+".StreamArn"] = r.Attrs[id+".Arn"] + "/stream/2026-01-01T00:00:00.000"
		case "AWS::SQS::Queue":
			r.Refs[id] = "https://sqs.us-east-1.amazonaws.com/000000000000/" + id
			r.Attrs[id+".Arn"] = fmt.Sprintf(prefix+"%s", "sqs", id)
		case "AWS::SecretsManager::Secret":
			r.Refs[id] = fmt.Sprintf(prefix+"secret:%s-AbCdEf", "secretsmanager", id)
		case "AWS::Serverless::Function":
			r.Attrs[id+".Arn"] = functionARN("us-east-1", id)
		}
	}
	fns, err := Functions(t, r)
	if err != nil {
		return nil, err
	}
	resources, err := samTransform(ctx, root, template, filepath.Join(root, ".local", "sam-transform"))
	if err != nil {
		return nil, err
	}
	ids, err := loadIdentities(resources, r, fns)
	if err != nil {
		return nil, err
	}
	out := map[string]*iamsim.Set{}
	for fn, role := range ids.roleOf {
		out[fn] = ids.roles[role]
	}
	for id, set := range ids.managed {
		out[id] = set
	}
	return out, nil
}
