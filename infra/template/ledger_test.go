package template_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// redaction is what an erasure's redaction of a ledger entry names
// (dynamo.Store.redactLedger: REMOVE detail, salt SET redacted_by).
var redaction = []string{"detail", "pk", "redacted_by", "salt", "sk"}

// No function the internet reaches deletes or rewrites a ledger entry:
// each may only append (PutItem), and the rights function update one
// only as an erasure redacts it. The ledger's signer alone writes the
// roots table; the public roots route reads only its roots.
func TestLedgerIsAppendOnlyToTheInternet(t *testing.T) {
	tpl := read(t)
	fns := internetFacing(tpl)
	for _, want := range []string{"FormsFunction", "PreferencesFunction", "RightsFunction", "OpenDSRFunction", "LedgerRootsFunction"} {
		if !slices.Contains(fns, want) {
			t.Fatalf("%s is not found behind a route (found %v)", want, fns)
		}
	}
	ledger := table("LedgerTable")
	var asks []ask
	for _, fn := range fns {
		if policies(t)[fn] == nil {
			continue // granted nothing (the console's door)
		}
		for _, a := range []string{"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLDelete", "dynamodb:PartiQLUpdate"} {
			asks = append(asks, ask{fn, a, ledger, keys([]string{"S#a"}, "pk", "sk"), false})
		}
		asks = append(asks,
			ask{fn, "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, "event", "pk", "sk"), false},
			ask{fn, "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, "h", "pk", "sk"), false},
			ask{fn, "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, redaction...), fn == "RightsFunction"})
	}
	// What each internet-facing function does with the ledger still works.
	asks = append(asks,
		ask{"FormsFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, "at", "event", "h", "pk", "sk"), true},
		ask{"RightsFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, "at", "event", "h", "pk", "sk"), true},
		// The team's erasure and a re-applied one redact the same way.
		ask{"OperatorFunction", "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, redaction...), true},
		ask{"OperatorFunction", "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, "event", "pk", "sk"), false},
		// A correction of an address redacts and copies; it deletes
		// nothing, so the team deletes no entry (its batches are the
		// subjects table's: iam_review_test.go).
		ask{"OperatorFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, "at", "event", "h", "pk", "sk"), true},
		ask{"OperatorFunction", "dynamodb:DeleteItem", ledger, keys([]string{"S#a"}, "pk", "sk"), false},
		ask{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, redaction...), true},
	)
	check(t, asks)
}

func TestOnlyTheSignerWritesTheLedgerRoots(t *testing.T) {
	roots := table("LedgerRootsTable")
	var asks []ask
	for who := range policies(t) {
		for _, a := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
			"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"} {
			allowed := who == "LedgerSignerFunction" && a == "dynamodb:PutItem"
			asks = append(asks, ask{who, a, roots, keys([]string{"ROOT"}, "jws", "leaves", "pages", "pk", "signed_at", "sk"), allowed})
		}
	}
	asks = append(asks,
		// The signer reads a day's keys and hashes from the index only,
		// never the entries (their detail).
		ask{"LedgerSignerFunction", "dynamodb:Query", table("LedgerTable") + "/index/by-day", keys([]string{"2026-12-06"}), true},
		ask{"LedgerSignerFunction", "dynamodb:Query", table("LedgerTable"), keys([]string{"S#a"}), false},
		ask{"LedgerSignerFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"RCPTKEY"}, "jwk", "pk", "published_at", "sk"), true},
		ask{"LedgerSignerFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"CTRL#c"}, "pk", "sk"), false},
		// The public route reads the roots, never the leaves (entry keys).
		ask{"LedgerRootsFunction", "dynamodb:Query", roots, keys([]string{"ROOT"}, "jws", "leaves", "pk", "signed_at", "sk"), true},
		ask{"LedgerRootsFunction", "dynamodb:Query", roots, keys([]string{"LEAVES#2026-12-06"}, "leaves", "pk", "sk"), false},
		ask{"LedgerRootsFunction", "dynamodb:Query", roots, keys([]string{"ROOT"}), false},
		ask{"LedgerRootsFunction", "dynamodb:Query", table("LedgerTable"), keys([]string{"S#a"}), false},
	)
	check(t, asks)
}

// A day is sealed LEDGER_SEAL_GRACE after its midnight: longer than any
// function runs, so an entry a run stamps with its start (the sweep's
// record) before midnight is written before its day is sealed, never
// seen by verify as inserted after the seal.
func TestLedgerSealWaitsForTheLongestRun(t *testing.T) {
	tpl := read(t)
	signer := tpl.Resources["LedgerSignerFunction"]
	grace, err := time.ParseDuration(fmt.Sprint(path(signer.Properties, "Environment", "Variables", "LEDGER_SEAL_GRACE")))
	if err != nil {
		t.Fatalf("LEDGER_SEAL_GRACE: %v", err)
	}
	longest, who := time.Duration(0), ""
	for _, fn := range functions(tpl) {
		timeout := path(tpl.Resources[fn].Properties, "Timeout")
		if timeout == nil {
			timeout = path(tpl.Globals, "Function", "Timeout")
		}
		n, err := strconv.Atoi(fmt.Sprint(timeout))
		if err != nil {
			t.Fatalf("%s: timeout %v", fn, timeout)
		}
		d := time.Duration(n) * time.Second
		if d > longest {
			longest, who = d, fn
		}
	}
	if longest == 0 {
		t.Fatal("no function timeout read")
	}
	if grace <= longest {
		t.Errorf("LEDGER_SEAL_GRACE %v, but %s runs up to %v: an entry it stamps before midnight may be written after the seal", grace, who, longest)
	}
}
