package deps_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

const module = "github.com/privacykeeper/privacykeeper/"

// A rule denies a dependency to every package of this module but those at
// home with it. Packages are named from the module's root ("shared/rights",
// "functions/forms"); a name ending in "/" names every package under it.
// Test helpers (a shared package named ...test) are not checked.
type rule struct {
	name string
	// applies names the packages the rule is for; none: every package.
	applies []string
	// denies reports whether the rule denies dep (an import path).
	denies func(dep string) bool
	// allowed are the packages where the dependency is at home.
	allowed []string
	// exceptions link it today and should not: each is a debt to pay,
	// named with the change that pays it. An exception that no longer
	// links it fails the test, so the list only shrinks.
	exceptions []string
}

func prefix(ps ...string) func(string) bool {
	return func(dep string) bool {
		return slices.ContainsFunc(ps, func(p string) bool { return dep == p || strings.HasPrefix(dep, p+"/") })
	}
}

func lambdaTypes(dep string) bool {
	// lambdacontext is the invocation's id, which only the log's handler
	// (shared/lambdalog) reads: linked everywhere through it, harmlessly.
	return prefix("github.com/aws/aws-lambda-go")(dep) && dep != "github.com/aws/aws-lambda-go/lambdacontext"
}

var rules = []rule{
	{
		// The services hold the decisions; they reach storage and AWS only
		// through interfaces the adapters satisfy.
		name:   "the AWS SDK only in adapters",
		denies: prefix("github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"),
		allowed: []string{"shared/dynamo", "shared/ses", "shared/sns", "shared/queue", "shared/lambdaenv", "shared/secret", "shared/batch",
			"shared/sdkhttp", "functions/"},
	},
	{
		name:    "the DynamoDB adapter only in the functions that wire it",
		denies:  prefix(module + "shared/dynamo"),
		allowed: []string{"shared/dynamo", "shared/lambdaenv", "functions/"},
	},
	{
		// Events are converted at the edge: services take plain values.
		// An HTTP API event becomes an httpapi.Request in httpapi/apigw,
		// stream and queue events become changes and messages in
		// shared/batch; the functions wire them. Checked on what each
		// package links, so no service reaches the types through another
		// package (httpapi itself links none).
		name:    "aws-lambda-go's event types linked only by the event adapters and the functions",
		denies:  lambdaTypes,
		allowed: []string{"shared/httpapi/apigw", "shared/batch", "functions/"},
	},
	{
		// A binary links the templates only where it serves pages.
		name:   "the page templates only in the functions that serve pages",
		denies: prefix(module+"shared/web", module+"shared/pages"),
		allowed: []string{"shared/", "functions/forms", "functions/preferences", "functions/rights", "functions/operator",
			"functions/consoleauth"},
	},
	{
		name:   "the email templates only in the functions that send email",
		denies: prefix(module + "shared/notify"),
		allowed: []string{"shared/", "functions/mailer", "functions/campaign", "functions/campaignsender", "functions/deadlines",
			"functions/operator"},
	},
	{
		// The console's door holds none of the team's powers: no store,
		// no team action, not the master secret (lambdaenv reads it).
		name:    "the console's door links no store, team action or master secret",
		applies: []string{"functions/consoleauth"},
		denies:  prefix(module+"shared/dynamo", module+"shared/operator", module+"shared/rights", module+"shared/lambdaenv"),
	},
}

func at(pkg string, names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool {
		return pkg == n || strings.HasSuffix(n, "/") && strings.HasPrefix(pkg, n)
	})
}

// deps returns each package of patterns, named from the module's root,
// with what it links (go list -f {{.Deps}}, without tests): what it
// imports and what they import, all the way down.
func deps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}, patterns...)...)
	cmd.Dir = localtest.Root()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return m
}

// check returns what breaks r in pkgs: a package that links what r denies,
// and an exception that no longer does.
func check(r rule, pkgs map[string][]string) []string {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		if len(r.applies) > 0 && !at(pkg, r.applies) || at(pkg, r.allowed) || strings.HasPrefix(pkg, "shared/") && strings.HasSuffix(pkg, "test") {
			continue
		}
		i := slices.IndexFunc(pkgs[pkg], r.denies)
		switch {
		case i >= 0 && !slices.Contains(r.exceptions, pkg):
			out = append(out, pkg+" links "+pkgs[pkg][i])
		case i < 0 && slices.Contains(r.exceptions, pkg):
			out = append(out, pkg+" no longer links it: take it off the exceptions")
		}
	}
	return out
}

func TestDependencyRules(t *testing.T) {
	pkgs := deps(t, "./shared/...", "./functions/...")
	if len(pkgs) < 40 {
		t.Fatalf("listed %d packages", len(pkgs))
	}
	for _, r := range rules {
		for _, e := range r.exceptions {
			t.Logf("%s: exception %s", r.name, e)
			if _, ok := pkgs[e]; !ok {
				t.Errorf("%s: the exception %s is no package", r.name, e)
			}
		}
		for _, broken := range check(r, pkgs) {
			t.Errorf("%s: %s", r.name, broken)
		}
	}
}

// Each rule fails a package that breaks it: a service (or httpapi, which
// every HTTP service links) that links aws-lambda-go, a sweep that links the page templates, the console's
// door that links the store.
func TestRulesFailWhatBreaksThem(t *testing.T) {
	tests := []struct {
		pkg, dep, rule string
	}{
		{"shared/limit", "github.com/aws/aws-lambda-go/events", "aws-lambda-go's event types linked only by the event adapters and the functions"},
		{"shared/preferences", "github.com/aws/aws-lambda-go/events", "aws-lambda-go's event types linked only by the event adapters and the functions"},
		{"shared/httpapi", "github.com/aws/aws-lambda-go/events", "aws-lambda-go's event types linked only by the event adapters and the functions"},
		{"shared/sweep", "github.com/aws/aws-sdk-go-v2/service/dynamodb", "the AWS SDK only in adapters"},
		{"shared/sweep", module + "shared/dynamo", "the DynamoDB adapter only in the functions that wire it"},
		{"functions/sweep", module + "shared/web", "the page templates only in the functions that serve pages"},
		{"functions/forms", module + "shared/notify", "the email templates only in the functions that send email"},
		{"functions/consoleauth", module + "shared/dynamo", "the console's door links no store, team action or master secret"},
	}
	for _, tt := range tests {
		i := slices.IndexFunc(rules, func(r rule) bool { return r.name == tt.rule })
		if i < 0 {
			t.Fatalf("no rule %q", tt.rule)
		}
		pkgs := map[string][]string{tt.pkg: {"fmt", tt.dep}}
		if got := check(rules[i], pkgs); len(got) != 1 {
			t.Errorf("%s linking %s: %v, want it refused", tt.pkg, tt.dep, got)
		}
		pkgs[tt.pkg] = []string{"fmt"}
		if got := check(rules[i], pkgs); len(got) != 0 {
			t.Errorf("%s without %s: %v", tt.pkg, tt.dep, got)
		}
	}
}

// Every function's main is one idiom: main calls run() error and exits
// non-zero on its error; run only wires (the logic is in shared/).
func TestMainsInOneIdiom(t *testing.T) {
	mains, err := filepath.Glob(filepath.Join(localtest.Root(), "functions", "*", "main.go"))
	if err != nil || len(mains) < 10 {
		t.Fatalf("%d mains: %v", len(mains), err)
	}
	for _, path := range mains {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var main, run *ast.FuncDecl
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				switch fn.Name.Name {
				case "main":
					main = fn
				case "run":
					run = fn
				}
			}
		}
		fn := filepath.Base(filepath.Dir(path))
		if run == nil || run.Type.Params.NumFields() != 0 || run.Type.Results.NumFields() != 1 ||
			types.ExprString(run.Type.Results.List[0].Type) != "error" {
			t.Errorf("%s: no func run() error", fn)
		}
		if main == nil || len(main.Body.List) != 1 {
			t.Errorf("%s: main does more than call run", fn)
			continue
		}
		s, ok := main.Body.List[0].(*ast.IfStmt)
		if !ok || s.Init == nil || !strings.Contains(types.ExprString(s.Init.(*ast.AssignStmt).Rhs[0]), "run()") {
			t.Errorf("%s: main is not `if err := run(); err != nil { ... }`", fn)
		}
	}
}

// httpFileExceptions read the HTTP request outside an adapter file today;
// issue #32 item 1 splits each into its service and an http.go beside it
// (console by its owner; processor, whose records and requests are
// read in processor.go and records.go, is left).
var httpFileExceptions = []string{"shared/console", "shared/processor"}

// adapterFile reports whether a file of a shared package may read the
// HTTP request (import httpapi): only its HTTP adapter, http.go as in
// shared/operator (or NAME_http.go, the adapter of one part of a
// package); httpapi itself is the contract, and apigw the edge that
// builds its request from API Gateway's event.
func adapterFile(pkg, file string) bool {
	return pkg == "shared/httpapi" || pkg == "shared/httpapi/apigw" || file == "http.go" || strings.HasSuffix(file, "_http.go")
}

// httpOutsideAdapters returns each file of pkgs (package: its files and
// each file's imports) that imports httpapi where adapterFile says it may
// not, and each exception that no longer does.
func httpOutsideAdapters(pkgs map[string]map[string][]string, exceptions []string) []string {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		var files []string
		for _, file := range slices.Sorted(maps.Keys(pkgs[pkg])) {
			if !adapterFile(pkg, file) && slices.Contains(pkgs[pkg][file], module+"shared/httpapi") {
				files = append(files, file)
			}
		}
		switch {
		case len(files) > 0 && !slices.Contains(exceptions, pkg):
			out = append(out, pkg+" reads the HTTP request outside its adapter (http.go): "+strings.Join(files, ", "))
		case len(files) == 0 && slices.Contains(exceptions, pkg):
			out = append(out, pkg+" no longer reads it outside http.go: take it off the exceptions")
		}
	}
	return out
}

// A service takes plain values: only its HTTP adapter, the file http.go
// beside it, reads the request (httpapi.Request, its headers, query,
// path parameters, cookies, authorizer's context) and writes the response.
func TestHTTPOnlyInAdapters(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{.Dir}} {{join .GoFiles " "}}`, "./shared/...")
	cmd.Dir = localtest.Root()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		if strings.HasSuffix(pkg, "test") {
			continue
		}
		pkgs[pkg] = map[string][]string{}
		for _, name := range f[2:] {
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(f[1], name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				pkgs[pkg][name] = append(pkgs[pkg][name], strings.Trim(imp.Path.Value, `"`))
			}
		}
	}
	for _, e := range httpFileExceptions {
		if _, ok := pkgs[e]; !ok {
			t.Errorf("the exception %s is no package", e)
		}
		t.Logf("exception: %s reads the HTTP request outside http.go", e)
	}
	for _, broken := range httpOutsideAdapters(pkgs, httpFileExceptions) {
		t.Error(broken)
	}
}

// The rule refuses a service file that reads the request, and accepts the
// same import in the service's http.go.
func TestHTTPRuleFailsWhatBreaksIt(t *testing.T) {
	httpapi := []string{"context", module + "shared/httpapi"}
	tests := []struct {
		name       string
		files      map[string][]string
		exceptions []string
		broken     int
	}{
		{"adapter file", map[string][]string{"http.go": httpapi, "service.go": {"context"}}, nil, 0},
		{"adapter of a part", map[string][]string{"receipts_http.go": httpapi, "receipts.go": {"context"}}, nil, 0},
		{"a file named like one", map[string][]string{"myhttp.go": httpapi}, nil, 1},
		{"service file", map[string][]string{"http.go": httpapi, "service.go": httpapi}, nil, 1},
		{"listed exception", map[string][]string{"service.go": httpapi}, []string{"shared/x"}, 0},
		{"exception paid", map[string][]string{"http.go": httpapi}, []string{"shared/x"}, 1},
	}
	for _, tt := range tests {
		got := httpOutsideAdapters(map[string]map[string][]string{"shared/x": tt.files}, tt.exceptions)
		if len(got) != tt.broken {
			t.Errorf("%s: %v, want %d broken", tt.name, got, tt.broken)
		}
	}
}
