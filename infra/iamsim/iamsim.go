// Package iamsim decides, as AWS IAM does, whether a principal's identity
// policies allow one request: an action on a resource with its condition
// keys. The deciding is done by @cloud-copilot/iam-simulate (npm), a
// maintained evaluator of IAM's policy language (Allow and Deny, resource
// patterns, every condition operator with ForAllValues/ForAnyValue and the
// "missing key" rules), run as one Node process per Go process
// (evaluator.mjs) and asked over a pipe; this package keeps its answers,
// since a local stack asks the same question thousands of times.
package iamsim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	_ "embed"
)

//go:embed evaluator.mjs
var script string

// Policy is one named policy document, as IAM holds it.
type Policy struct {
	Name     string         `json:"name"`
	Document map[string]any `json:"policy"`
}

// Request is one authorization check: an action on one resource, with the
// request's condition keys (a string, or a list of strings for a
// multivalued key such as dynamodb:LeadingKeys).
type Request struct {
	Action   string
	Resource string
	Context  map[string]any
}

// Results of an evaluation, as iam-simulate (and IAM) name them.
const (
	Allowed          = "Allowed"
	ImplicitlyDenied = "ImplicitlyDenied"
	ExplicitlyDenied = "ExplicitlyDenied"
)

// Decision is the answer to a Request.
type Decision struct {
	Result string
	// Explanation, for a denial: each statement whose action and resource
	// match, and the condition it failed or the Deny that matched.
	Explanation []string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Result == Allowed }

// Stats count what an Evaluator was asked.
type Stats struct {
	Decisions   int64         // Decide calls
	Evaluations int64         // of them, asked of the evaluator (not already known)
	Validated   int64         // of those, validated and explained too
	EvalTime    time.Duration // the evaluations' time, round trips included
	DecideTime  time.Duration // every Decide's time
}

// Evaluator asks the Node evaluator and keeps its answers. Its zero value
// is not usable: use New or Shared.
type Evaluator struct {
	modules string
	stderr  io.Writer

	mu     sync.Mutex
	proc   *process
	loaded map[string]bool     // policy sets the current process holds
	shapes map[string]bool     // request shapes validated once (shape)
	known  map[string]Decision // answers, by Set.key
	stats  Stats
}

// New returns an evaluator that runs evaluator.mjs with the packages in
// nodeModules (.tools/node/node_modules), started on first use.
func New(nodeModules string) *Evaluator {
	return &Evaluator{modules: nodeModules, stderr: os.Stderr, loaded: map[string]bool{}, shapes: map[string]bool{},
		known: map[string]Decision{}}
}

var shared struct {
	sync.Mutex
	by map[string]*Evaluator
}

// Shared returns the process's one evaluator for nodeModules: every local
// stack of a process (a test binary starts dozens) shares its process and
// its answers.
func Shared(nodeModules string) *Evaluator {
	shared.Lock()
	defer shared.Unlock()
	if shared.by == nil {
		shared.by = map[string]*Evaluator{}
	}
	if e := shared.by[nodeModules]; e != nil {
		return e
	}
	e := New(nodeModules)
	shared.by[nodeModules] = e
	return e
}

// Stats returns the counts so far.
func (e *Evaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Decide evaluates req for principal (the ARN AWS's messages name) under
// the identity policies of set. Equal questions get the known answer.
func (e *Evaluator) Decide(ctx context.Context, set *Set, principal string, req Request) (Decision, error) {
	start := time.Now()
	key, context := set.key(principal, req)
	e.mu.Lock()
	e.stats.Decisions++
	d, ok := e.known[key]
	e.mu.Unlock()
	if ok {
		e.count(start, 0, false)
		return d, nil
	}
	req.Context = context
	p, validate, err := e.ready(ctx, set, req)
	if err != nil {
		return Decision{}, err
	}
	evalStart := time.Now()
	out, err := p.ask(ctx, map[string]any{"op": "eval", "set": set.id, "principal": principal, "action": req.Action,
		"resource": req.Resource, "accountId": account(req.Resource), "context": req.Context, "validate": validate})
	if err == nil && out.Error != "" {
		err = errors.New(out.Error)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("iam evaluator: %s on %s: %w", req.Action, req.Resource, err)
	}
	d = Decision{Result: out.Result, Explanation: out.Explain}
	if d.Result != Allowed && d.Result != ImplicitlyDenied && d.Result != ExplicitlyDenied {
		return Decision{}, fmt.Errorf("iam evaluator: %s on %s: answer %q", req.Action, req.Resource, d.Result)
	}
	e.mu.Lock()
	e.known[key] = d
	e.mu.Unlock()
	e.count(start, time.Since(evalStart), validate || !d.Allowed())
	return d, nil
}

func (e *Evaluator) count(start time.Time, eval time.Duration, validated bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.DecideTime += time.Since(start)
	if eval > 0 {
		e.stats.Evaluations++
		e.stats.EvalTime += eval
	}
	if validated {
		e.stats.Validated++
	}
}

// account is the account of an ARN (this stack's for "*"), which
// iam-simulate compares with the principal's to tell a cross-account
// request.
func account(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	return "000000000000"
}

// ready returns the running process with set loaded in it, and whether the
// request's shape is new, so that the evaluator validates it once.
func (e *Evaluator) ready(ctx context.Context, set *Set, req Request) (*process, bool, error) {
	e.mu.Lock()
	p := e.proc
	if p == nil || p.exited() {
		var err error
		if p, err = start(e.modules, e.stderr); err != nil {
			e.mu.Unlock()
			return nil, false, err
		}
		e.proc, e.loaded = p, map[string]bool{}
	}
	load := !e.loaded[set.id]
	e.loaded[set.id] = true
	validate := !e.shapes[shape(req)]
	e.shapes[shape(req)] = true
	e.mu.Unlock()
	if load {
		out, err := p.ask(ctx, map[string]any{"op": "load", "set": set.id, "policies": set.policies})
		if err == nil && out.Error != "" {
			err = errors.New(out.Error)
		}
		if err != nil {
			e.mu.Lock()
			delete(e.loaded, set.id)
			e.mu.Unlock()
			return nil, false, fmt.Errorf("iam evaluator: load policies: %w", err)
		}
	}
	return p, validate, nil
}

// process is the running evaluator: one request at a time on its stdin,
// answers matched by id.
type process struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	wmu  sync.Mutex
	mu   sync.Mutex
	next int64
	wait map[int64]chan answer
	done chan struct{}
}

type answer struct {
	ID      int64    `json:"id"`
	OK      bool     `json:"ok"`
	Result  string   `json:"result"`
	Explain []string `json:"explain"`
	Error   string   `json:"error"`
}

func start(modules string, stderr io.Writer) (*process, error) {
	cmd := exec.Command("node", "--input-type=module", "--eval", script)
	cmd.Env = append(os.Environ(), "PK_NODE_MODULES="+modules)
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("iam evaluator: start node (Node.js 20+ is required): %w", err)
	}
	p := &process{cmd: cmd, in: in, wait: map[int64]chan answer{}, done: make(chan struct{})}
	go p.read(out)
	return p, nil
}

func (p *process) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var a answer
		if json.Unmarshal(sc.Bytes(), &a) != nil {
			continue
		}
		p.mu.Lock()
		ch := p.wait[a.ID]
		delete(p.wait, a.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- a
		}
	}
	_ = p.cmd.Wait()
	close(p.done)
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) ask(ctx context.Context, msg map[string]any) (answer, error) {
	ch := make(chan answer, 1)
	p.mu.Lock()
	p.next++
	id := p.next
	p.wait[id] = ch
	p.mu.Unlock()
	msg["id"] = id
	b, err := json.Marshal(msg)
	if err != nil {
		return answer{}, err
	}
	p.wmu.Lock()
	_, err = p.in.Write(append(b, '\n'))
	p.wmu.Unlock()
	if err == nil {
		select {
		case a := <-ch:
			return a, nil
		case <-p.done:
			err = errors.New("the evaluator process exited")
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	p.mu.Lock()
	delete(p.wait, id)
	p.mu.Unlock()
	return answer{}, err
}

// Set is the identity policies of one principal, with what their
// conditions can tell apart (see key).
type Set struct {
	id       string
	policies []Policy
	keys     map[string]*keyUse // by lower-cased condition key
}

// NewSet prepares policies for evaluation.
func NewSet(policies []Policy) (*Set, error) {
	b, err := json.Marshal(policies)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	s := &Set{id: hex.EncodeToString(sum[:16]), policies: policies, keys: map[string]*keyUse{}}
	for _, p := range policies {
		for _, st := range statements(p.Document) {
			s.addConditions(st["Condition"])
		}
	}
	return s, nil
}

// ID names the set (a hash of its policies).
func (s *Set) ID() string { return s.id }

// Policies are the set's documents.
func (s *Set) Policies() []Policy { return s.policies }

func statements(doc map[string]any) []map[string]any {
	switch st := doc["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		var out []map[string]any
		for _, e := range st {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}
