package template_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The first deploy: what CloudFormation and the services refuse only when
// a stack is created, checked here for the longest stack name
// CloudFormation accepts (128 characters, a letter then letters, digits
// and hyphens), one with capitals and the words Cognito refuses in a
// domain.
var longestStackName = func() string {
	n := "Aws-Amazon-Cognito-Privacykeeper-"
	return n + strings.Repeat("x", 128-len(n))
}()

// These are the longest values of the pseudo parameters, for an upper
// bound (no real region is in that partition).
const (
	longRegion    = "ap-southeast-3"
	longPartition = "aws-us-gov"
	accountID     = "123456789012"
)

// deployment is the transformed template resolved as CloudFormation would
// for a stack of the given name and id: every name the stack does not set
// is generated as CloudFormation generates them ("<stack>-<LogicalId>-"
// and 13 random characters, cut to the type's limit), so what a deploy
// sends AWS can be measured.
type deployment struct {
	tpl *local.Template
	r   *local.Resolver
}

func deploy(t *testing.T, doc []byte, stack, uuid string) deployment {
	t.Helper()
	file := filepath.Join(t.TempDir(), "transformed.json")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := local.ReadTemplate(file)
	if err != nil {
		t.Fatal(err)
	}
	params := local.DevParams("https://privacy.example.com")
	params["Stage"] = strings.Repeat("s", 16) // the longest its pattern admits
	r, err := local.NewResolver(tpl, params, longRegion)
	if err != nil {
		t.Fatal(err)
	}
	r.Pseudo["AWS::StackName"] = stack
	r.Pseudo["AWS::StackId"] = fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", longPartition, longRegion, accountID, stack, uuid)
	r.Pseudo["AWS::Region"], r.Pseudo["AWS::Partition"], r.Pseudo["AWS::AccountId"] = longRegion, longPartition, accountID
	r.Pseudo["AWS::URLSuffix"] = "amazonaws.com.cn"
	generated := func(id string, max int) string {
		n := stack + "-" + id + "-ABCDEFGHIJKLM"
		return n[:min(len(n), max)]
	}
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", longPartition, service, longRegion, accountID, resource)
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range tpl.Resources {
			if !yield(id) {
				return
			}
		}
	}) {
		res := tpl.Resources[id]
		switch res.Type {
		case "AWS::DynamoDB::Table":
			name := generated(id, 255)
			r.Refs[id], r.Attrs[id+".Arn"] = name, arn("dynamodb", "table/"+name)
			r.Attrs[id+".StreamArn"] = arn("dynamodb", "table/"+name+"/stream/2026-12-07T00:00:00.000")
		case "AWS::Lambda::Function":
			name := generated(id, 64)
			r.Refs[id], r.Attrs[id+".Arn"] = name, arn("lambda", "function:"+name)
		case "AWS::SQS::Queue":
			name := generated(id, 80)
			r.Refs[id] = fmt.Sprintf("https://sqs.%s.amazonaws.com.cn/%s/%s", longRegion, accountID, name)
			r.Attrs[id+".Arn"], r.Attrs[id+".QueueName"] = arn("sqs", name), name
		case "AWS::SecretsManager::Secret":
			r.Refs[id] = arn("secretsmanager", "secret:"+generated(id, 512)+"-AbCdEf")
		case "AWS::SNS::Topic":
			r.Refs[id] = arn("sns", generated(id, 256))
		case "AWS::IAM::Role":
			name := generated(id, 64)
			r.Refs[id], r.Attrs[id+".Arn"] = name, fmt.Sprintf("arn:%s:iam::%s:role/%s", longPartition, accountID, name)
		case "AWS::SES::ConfigurationSet":
			r.Refs[id] = generated(id, 64)
		case "AWS::ApiGatewayV2::Api":
			r.Refs[id] = "a1b2c3d4e5"
		case "AWS::KMS::Key":
			r.Refs[id] = "0123abcd-0123-4567-89ab-0123456789ab"
			r.Attrs[id+".Arn"] = arn("kms", "key/"+r.Refs[id])
		case "AWS::Cognito::UserPool":
			r.Refs[id] = longRegion + "_AbCdEfGhI"
			r.Attrs[id+".Arn"] = arn("cognito-idp", "userpool/"+r.Refs[id])
		case "AWS::Cognito::UserPoolClient":
			r.Refs[id] = "abcdefghijklmnopqrstuvwxyz"
		}
	}
	// What refers to properties of the above: log groups by their names,
	// the user pool's domain by its prefix.
	for id, res := range tpl.Resources {
		var prop string
		switch res.Type {
		case "AWS::Logs::LogGroup":
			prop = "LogGroupName"
		case "AWS::Cognito::UserPoolDomain":
			prop = "Domain"
		default:
			continue
		}
		v, err := r.Resolve(res.Properties[prop])
		if err != nil {
			t.Fatalf("%s %s: %v", id, prop, err)
		}
		r.Refs[id] = fmt.Sprint(v)
		r.Attrs[id+".Arn"] = arn("logs", "log-group:"+r.Refs[id]+":*")
	}
	return deployment{tpl: tpl, r: r}
}

// value resolves a property of a resource of the deployment.
func (d deployment) value(t *testing.T, id string, keys ...string) any {
	t.Helper()
	v, err := d.r.Resolve(path(d.tpl.Resources[id].Properties, keys...))
	if err != nil {
		t.Fatalf("%s %v: %v", id, keys, err)
	}
	return v
}

// Every name or other limited property the stack gives a resource fits
// the limit and pattern of its type's CloudFormation schema (cfn-lint's
// copy) with the longest stack name: schedule names (64), the user pool's
// name (128), log group names (512), and every other. A deploy fails at
// the first that does not.
func TestNamesFitForTheLongestStackName(t *testing.T) {
	doc := transformedJSON(t)
	cmd := exec.Command("python3", "limits.py")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("limits.py: %v", err)
	}
	var limits map[string]map[string]struct {
		MaxLength int    `json:"maxLength"`
		Pattern   string `json:"pattern"`
	}
	if err := json.Unmarshal(out, &limits); err != nil {
		t.Fatal(err)
	}
	d := deploy(t, doc, longestStackName, "51af3dc0-da77-11e4-872e-1234567db123")
	checked := 0
	for id, res := range d.tpl.Resources {
		for prop, lim := range limits[res.Type] {
			raw, ok := res.Properties[prop]
			if _, constant := raw.(string); !ok || constant {
				continue // absent, or a constant cfn-lint checks
			}
			checked++
			v := fmt.Sprint(d.value(t, id, prop))
			if lim.MaxLength > 0 && len(v) > lim.MaxLength {
				t.Errorf("%s %s is %d characters with a %d-character stack name, over %d: %s", id, prop, len(v),
					len(longestStackName), lim.MaxLength, v)
			}
			// The schemas' patterns are Python's; \Z is Go's \z.
			if re, err := regexp.Compile(strings.ReplaceAll(lim.Pattern, `\Z`, `\z`)); lim.Pattern != "" && err == nil && !re.MatchString(v) {
				t.Errorf("%s %s %q does not match %s", id, prop, v, lim.Pattern)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d properties checked", checked)
	}
}

// Schedules are named by CloudFormation (within Scheduler's 64 characters
// and unique, whatever the stack is called): no fixed name two stacks in
// one account would share, none that grows with the stack's name.
func TestScheduleNamesFitEveryStack(t *testing.T) {
	doc := transformedJSON(t)
	a := deploy(t, doc, longestStackName, "51af3dc0-da77-11e4-872e-1234567db123")
	b := deploy(t, doc, "privacykeeper", "7d2c1e00-da77-11e4-872e-1234567db124")
	n := 0
	for _, id := range a.tpl.ResourcesOfType("AWS::Scheduler::Schedule") {
		n++
		if a.tpl.Resources[id].Properties["Name"] == nil {
			continue // CloudFormation's own
		}
		na, nb := fmt.Sprint(a.value(t, id, "Name")), fmt.Sprint(b.value(t, id, "Name"))
		if len(na) > 64 || len(nb) > 64 || na == nb {
			t.Errorf("%s: named %q and %q in two stacks: over 64 characters, or the same in both", id, na, nb)
		}
	}
	if n < 7 {
		t.Fatalf("%d schedules", n)
	}
}

// The console's hosted-login domain prefix is global: two stacks of the
// same Stage in one account (or two accounts) get two prefixes, each of
// at most 63 lowercase letters, digits and hyphens, without "aws",
// "amazon" or "cognito", whatever the stack is called.
func TestConsoleDomainIsTheStacksOwn(t *testing.T) {
	doc := transformedJSON(t)
	seen := map[string]string{}
	for _, st := range []struct{ name, uuid string }{
		{longestStackName, "51af3dc0-da77-11e4-872e-1234567db123"},
		{"privacykeeper", "7d2c1e00-da77-11e4-872e-1234567db124"},
		{"privacykeeper-copy", "9e3d2f11-da77-11e4-872e-1234567db125"},
	} {
		d := deploy(t, doc, st.name, st.uuid)
		prefix := fmt.Sprint(d.value(t, "ConsoleUserPoolDomain", "Domain"))
		if !regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`).MatchString(prefix) ||
			regexp.MustCompile(`aws|amazon|cognito`).MatchString(prefix) {
			t.Errorf("stack %s: domain prefix %q is not one Cognito takes", st.name, prefix)
		}
		if other, ok := seen[prefix]; ok {
			t.Errorf("stacks %s and %s (same Stage and account) share the domain prefix %q", other, st.name, prefix)
		}
		seen[prefix] = st.name
	}
}

// A deploy's PublicBaseURL is https (Cognito refuses an http callback but
// for localhost; RFC 8058's one-click needs https); the local stacks'
// own http URLs on loopback stay within the pattern, so enforcing it
// locally would break nothing.
func TestPublicBaseURLIsHTTPS(t *testing.T) {
	pattern, _ := read(t).Parameters["PublicBaseURL"]["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatalf("PublicBaseURL's AllowedPattern %q: %v", pattern, err)
	}
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://privacy.example.com", true},
		{"https://api.example.com/prod", true},
		{"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", true},
		{"http://privacy.example.com", false},
		{"http://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.example.com", false},
		{"https://privacy.example.com/", false},
		{"ftp://privacy.example.com", false},
		{local.DevParams("http://127.0.0.1:41234")["PublicBaseURL"], true},
		{local.DevParams("http://localhost:3000")["PublicBaseURL"], true},
		{samLocalBaseURL(t), true},
	} {
		if got := re.MatchString(tc.url); got != tc.want {
			t.Errorf("PublicBaseURL %q admitted %v, want %v", tc.url, got, tc.want)
		}
	}
}

// samLocalBaseURL is the PublicBaseURL samconfig.toml gives sam local.
func samLocalBaseURL(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(localtest.Root(), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`PublicBaseURL=(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("samconfig.toml gives sam local no PublicBaseURL")
	}
	return string(m[1])
}

// IAM's size limits, measured as IAM does (characters, whitespace not
// counted) after the intrinsics are resolved with the longest names: a
// managed policy 6,144, a role's inline policies 10,240 together
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
// PrivacyMaintenancePolicy names most of the stack's ARNs.
func TestPoliciesFitIAMsLimits(t *testing.T) {
	d := deploy(t, transformedJSON(t), longestStackName, "51af3dc0-da77-11e4-872e-1234567db123")
	size := func(v any) int {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return len(strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, b.String()))
	}
	managed := 0
	for _, id := range d.tpl.ResourcesOfType("AWS::IAM::ManagedPolicy") {
		managed++
		n := size(d.value(t, id, "PolicyDocument"))
		t.Logf("%s: %d characters of 6,144", id, n)
		if n > 6144 {
			t.Errorf("%s: %d characters with the longest names, over IAM's 6,144 for a managed policy", id, n)
		}
	}
	if managed < 2 {
		t.Fatalf("%d managed policies", managed)
	}
	largest, largestID := 0, ""
	for _, id := range d.tpl.ResourcesOfType("AWS::IAM::Role") {
		n := 0
		policies, _ := d.value(t, id, "Policies").([]any)
		for _, p := range policies {
			n += size(path(p, "PolicyDocument"))
		}
		if n > largest {
			largest, largestID = n, id
		}
		if n > 10240 {
			t.Errorf("%s: inline policies of %d characters with the longest names, over IAM's 10,240 for a role", id, n)
		}
	}
	t.Logf("largest role: %s, %d characters of 10,240", largestID, largest)
}

// The custom domain is optional and complete: without CustomDomainName the
// stack has none; with it, a regional domain name with its certificate
// mapped to the API's $default stage (the one SAM makes), the DNS target
// among the outputs, and a rule refusing a domain without a certificate.
func TestCustomDomainIsOptional(t *testing.T) {
	tpl := read(t)
	for _, p := range []string{"CustomDomainName", "CustomDomainCertificateArn"} {
		if d, ok := tpl.Parameters[p]["Default"]; !ok || d != "" {
			t.Errorf("parameter %s: default %v, want \"\" (optional)", p, d)
		}
	}
	for _, tc := range []struct {
		domain string
		want   bool
	}{{"", false}, {"privacy.example.com", true}} {
		params := local.DevParams("https://privacy.example.com")
		params["CustomDomainName"] = tc.domain
		r, err := local.NewResolver(tpl, params, "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"ApiDomainName", "ApiDomainMapping"} {
			if got, err := r.Exists(id); err != nil || got != tc.want {
				t.Errorf("CustomDomainName %q: %s exists %v (%v), want %v", tc.domain, id, got, err, tc.want)
			}
		}
	}
	dn := tpl.Resources["ApiDomainName"]
	if dn.Type != "AWS::ApiGatewayV2::DomainName" || refTo(dn.Properties["DomainName"]) != "CustomDomainName" ||
		js(path(firstOf(dn.Properties["DomainNameConfigurations"]), "CertificateArn")) != `{"Ref":"CustomDomainCertificateArn"}` ||
		path(firstOf(dn.Properties["DomainNameConfigurations"]), "EndpointType") != "REGIONAL" {
		t.Errorf("ApiDomainName: %s", js(dn))
	}
	var rules struct {
		Rules map[string]struct {
			RuleCondition any
			Assertions    []struct{ Assert any }
		}
	}
	if err := json.Unmarshal(transformedJSON(t), &rules); err != nil {
		t.Fatal(err)
	}
	rule := rules.Rules["CustomDomainNeedsItsCertificate"]
	if !strings.Contains(js(rule.RuleCondition), "CustomDomainName") || len(rule.Assertions) != 1 ||
		!strings.Contains(js(rule.Assertions[0].Assert), "CustomDomainCertificateArn") {
		t.Errorf("no rule requiring the certificate with the domain: %s", js(rules.Rules))
	}
	// After the transform: mapped to the stage SAM makes for $default.
	out := transformed(t)
	m := out["ApiDomainMapping"]
	stage := refTo(path(m, "Properties", "Stage"))
	if refTo(path(m, "Properties", "ApiId")) != "HttpApi" || refTo(path(m, "Properties", "DomainName")) != "ApiDomainName" ||
		path(out[stage], "Type") != "AWS::ApiGatewayV2::Stage" || path(out[stage], "Properties", "StageName") != "$default" {
		t.Errorf("ApiDomainMapping %s, stage %s", js(m), js(out[stage]))
	}
	var outputs struct{ Outputs map[string]map[string]any }
	if err := json.Unmarshal(transformedJSON(t), &outputs); err != nil {
		t.Fatal(err)
	}
	if o := outputs.Outputs["CustomDomainTarget"]; o["Condition"] != "HasCustomDomain" ||
		js(o["Value"]) != `{"Fn::GetAtt":["ApiDomainName","RegionalDomainName"]}` {
		t.Errorf("CustomDomainTarget output: %s", js(o))
	}
}

// sam build builds each function as make build does: its Metadata names
// the Makefile's build-<LogicalId> target in the repository (one Go
// module: the function's folder alone does not build), built in source,
// and that target builds the function's CodeUri for the template's
// architecture with -tags lambda.norpc and -ldflags "-s -w", which SAM's
// go1.x builder does not pass. One target is built for real and its
// binary's build settings read back (go version -m).
func TestSamBuildsAsMakeBuild(t *testing.T) {
	tpl := read(t)
	out := transformed(t)
	root := localtest.Root()
	arch := strings.ReplaceAll(js(path(tpl.Globals, "Function", "Architectures")), `"`, "")
	goarch := map[string]string{"[arm64]": "arm64", "[x86_64]": "amd64"}[arch]
	if goarch == "" {
		t.Fatalf("Globals.Function.Architectures %s", arch)
	}
	artifacts := t.TempDir()
	for _, id := range functions(tpl) {
		if m := js(path(out[id], "Metadata")); m != `{"BuildMethod":"makefile","ContextPath":".","ProjectRootDirectory":"."}` {
			t.Errorf("%s: Metadata %s, want the Makefile's target in the repository", id, m)
			continue
		}
		dir := strings.TrimSuffix(fmt.Sprint(tpl.Resources[id].Properties["CodeUri"]), "/")
		cmd := exec.Command("make", "-s", "-n", "build-"+id, "ARTIFACTS_DIR="+artifacts)
		cmd.Dir = root
		b, err := cmd.Output()
		want := fmt.Sprintf(`CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o %s/bootstrap ./%s`,
			goarch, artifacts, dir)
		if got := strings.TrimSpace(string(b)); err != nil || got != want {
			t.Errorf("make build-%s (%v):\n got %s\nwant %s", id, err, got, want)
		}
	}
	conf, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil || !regexp.MustCompile(`(?m)^\[default\.build\.parameters\]\n(?:[^\[\n].*\n)*build_in_source = true$`).Match(conf) {
		t.Errorf("samconfig.toml does not build in source (%v): each function would copy the repository", err)
	}
	if testing.Short() {
		return
	}
	cmd := exec.Command("make", "-s", "build-ConsoleAuthFunction", "ARTIFACTS_DIR="+artifacts)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-ConsoleAuthFunction: %v\n%s", err, b)
	}
	b, err := exec.Command("go", "version", "-m", filepath.Join(artifacts, "bootstrap")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, setting := range []string{"-tags=lambda.norpc", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch, "-trimpath=true"} {
		if !strings.Contains(string(b), "build\t"+setting+"\n") {
			t.Errorf("the bootstrap was not built with %s:\n%s", setting, b)
		}
	}
	// -ldflags "-s -w" (which -trimpath keeps out of the build info): no
	// symbol table, no DWARF.
	f, err := elf.Open(filepath.Join(artifacts, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[goarch] {
		t.Errorf("the bootstrap is for %v, not %s", f.Machine, goarch)
	}
	for _, sec := range f.Sections {
		if sec.Name == ".symtab" || strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
			t.Errorf("the bootstrap keeps section %s: not built with -ldflags \"-s -w\"", sec.Name)
		}
	}
}
