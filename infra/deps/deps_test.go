package deps_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

const module = "github.com/privacykeeper/privacykeeper/"

// adapters may use the AWS SDK: they convert at the edge.
var adapters = []string{"shared/dynamo", "shared/ses", "shared/sns", "shared/queue", "shared/lambdaenv", "shared/secret"}

// linked is what each function's binary may link of this module's shared
// packages. A new dependency is a decision: add it here, with the reason
// in the commit. No function but the three that serve pages (and the
// console's two: the operator and its door) links the page templates
// (shared/web, shared/pages); none but those that send
// email links the email templates (shared/notify).
var linked = map[string][]string{
	"callbacks":      {"dynamo", "httpapi", "lambdaenv", "lambdalog", "limit", "metric", "opendsr", "privacy", "processor", "secret", "token"},
	"campaign":       {"campaign", "dynamo", "lambdaenv", "lambdalog", "links", "mailer", "metric", "notify", "privacy", "queue", "receipt", "secret", "token"},
	"campaignsender": {"campaign", "dynamo", "lambdaenv", "lambdalog", "links", "mailer", "metric", "notify", "policy", "privacy", "receipt", "secret", "ses", "token"},
	"deadlines":      {"deadlines", "dynamo", "lambdaenv", "lambdalog", "notify", "privacy", "secret", "ses", "token"},
	"feedback":       {"dynamo", "feedback", "httpapi", "lambdaenv", "lambdalog", "policy", "privacy", "secret", "sns", "token"},
	"forms":          {"dynamo", "forms", "httpapi", "lambdaenv", "lambdalog", "limit", "pages", "policy", "privacy", "secret", "token", "web"},
	"mailer":         {"dynamo", "lambdaenv", "lambdalog", "links", "mailer", "metric", "notify", "policy", "privacy", "receipt", "secret", "ses", "token"},
	"opendsr":        {"dynamo", "httpapi", "lambdaenv", "lambdalog", "limit", "metric", "opendsr", "privacy", "processor", "secret", "token"},
	"opendsrworker":  {"dynamo", "httpapi", "lambdaenv", "lambdalog", "limit", "metric", "opendsr", "privacy", "processor", "secret", "token"},
	"preferences":    {"dynamo", "httpapi", "lambdaenv", "lambdalog", "links", "pages", "policy", "preferences", "privacy", "receipt", "secret", "token", "web"},
	// The team's desk (shared/rights, beside its handlers and their pages),
	// campaign status (shared/campaign), processors' discovery, the
	// console's pages.
	"operator": {"campaign", "console", "dynamo", "httpapi", "lambdaenv", "lambdalog", "limit", "links", "mailer", "metric", "notify",
		"opendsr", "operator", "pages", "policy", "privacy", "processor", "receipt", "recipients", "rights", "secret", "session", "token", "web"},
	// The console's door: sign-in pages and sessions, none of the team's
	// powers (no operator, no store, not the master secret: its own
	// session key alone).
	"consoleauth": {"httpapi", "lambdalog", "privacy", "secret", "session", "web"},
	"notices":     {"dynamo", "lambdaenv", "lambdalog", "policy", "privacy", "secret", "token"},
	"recipients":  {"dynamo", "lambdaenv", "lambdalog", "opendsr", "privacy", "recipients", "secret", "token"},
	"rights":      {"dynamo", "httpapi", "lambdaenv", "lambdalog", "limit", "links", "opendsr", "pages", "policy", "privacy", "recipients", "rights", "secret", "token", "web"},
	"sweep":       {"dynamo", "lambdaenv", "lambdalog", "privacy", "secret", "sweep", "token"},
}

// deps returns each package of patterns with its transitive imports
// (go list -deps, without tests).
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
		m[f[0]] = f[1:]
	}
	return m
}

// The services hold the decisions; they reach storage and AWS only
// through interfaces the adapters satisfy, so none links the SDK or the
// DynamoDB adapter, directly or through another package.
func TestServicesImportNeitherTheSDKNorTheAdapter(t *testing.T) {
	pkgs := deps(t, "./shared/...")
	if len(pkgs) < 20 {
		t.Fatalf("listed %d packages", len(pkgs))
	}
	for pkg, ds := range pkgs {
		rel := strings.TrimPrefix(pkg, module)
		if slices.Contains(adapters, rel) || strings.HasSuffix(rel, "test") {
			continue
		}
		for _, d := range ds {
			if strings.HasPrefix(d, "github.com/aws/aws-sdk-go-v2") || strings.HasPrefix(d, "github.com/aws/smithy-go") ||
				d == module+"shared/dynamo" {
				t.Errorf("%s links %s", rel, d)
				break
			}
		}
	}
}

func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	pkgs := deps(t, "./functions/...")
	if len(pkgs) != len(linked) {
		t.Errorf("%d functions, %d in the allow-list: every function has its list", len(pkgs), len(linked))
	}
	for pkg, ds := range pkgs {
		fn := filepath.Base(pkg)
		var got []string
		for _, d := range ds {
			if rel, ok := strings.CutPrefix(d, module+"shared/"); ok {
				got = append(got, rel)
			}
		}
		for _, g := range got {
			if !slices.Contains(linked[fn], g) {
				t.Errorf("%s links shared/%s, which it is not allowed", fn, g)
			}
		}
		for _, w := range linked[fn] {
			if !slices.Contains(got, w) {
				t.Errorf("%s no longer links shared/%s: take it off its list", fn, w)
			}
		}
	}
}
