package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// BENCH_QUICK=1 make bench's program, run as make bench runs it (against
// make test's services), writes every figure make bench writes, and no
// section of it fails: a benchmark that rots fails make test.
func TestQuickBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark at small sizes")
	}
	localtest.Need(t)
	out := filepath.Join(t.TempDir(), "quick.json")
	cmd := exec.Command("go", "run", "./infra/bench")
	cmd.Dir = localtest.Root()
	cmd.Env = append(os.Environ(), "BENCH_QUICK=1", "BENCH_OUT="+out)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("BENCH_QUICK=1 go run ./infra/bench: %v\n%s", err, log)
	}
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no JSON written: %v", rerr)
	}
	for _, problem := range checkReport(b) {
		t.Error(problem)
	}
}

// checkReport says what is wrong with a report's JSON: a key of the
// report missing (at any depth), a map or list with nothing in it, a
// section missing or failed.
func checkReport(b []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	problems := missing(reflect.TypeFor[report](), doc, "")
	// A process's CPU time that reads 0 was not measured.
	for _, k := range []string{"cpu_ms_per_signup", "cpu_ms_per_contact", "cpu_ms_per_rights_request"} {
		if v, ok := doc[k].(float64); ok && v <= 0 {
			problems = append(problems, k+": not above 0")
		}
	}
	secs, _ := doc["sections"].(map[string]any)
	for _, name := range sections {
		sec, ok := secs[name].(map[string]any)
		switch {
		case !ok:
			problems = append(problems, "section "+name+" did not run")
		case sec["error"] != nil:
			problems = append(problems, "section "+name+" failed: "+asText(sec["error"]))
		}
	}
	return problems
}

// missing lists the keys of type t (a struct's JSON fields, recursively)
// that v lacks, and the maps and lists in v that are empty.
func missing(t reflect.Type, v any, where string) []string {
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return []string{where + ": not an object"}
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || strings.Contains(opts, "omitempty") {
				continue
			}
			fv, ok := m[name]
			if !ok || fv == nil {
				out = append(out, where+name+": missing")
				continue
			}
			out = append(out, missing(f.Type, fv, where+name+".")...)
		}
	case reflect.Map, reflect.Slice:
		if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Struct {
			return nil // a fixed pair of figures, say
		}
		var n int
		switch x := v.(type) {
		case map[string]any:
			n = len(x)
		case []any:
			n = len(x)
			for _, e := range x {
				out = append(out, missing(t.Elem(), e, where)...)
			}
		}
		if n == 0 {
			out = append(out, strings.TrimSuffix(where, ".")+": empty")
		}
	}
	return out
}

func asText(v any) string { b, _ := json.Marshal(v); return string(b) }

// The check itself: a complete report passes; a missing key, an empty
// list, a missing or failed section each fail it.
func TestCheckReport(t *testing.T) {
	complete := func() map[string]any {
		var doc map[string]any
		b, _ := json.Marshal(report{Ratios: map[string]float64{"r": 1}, Sizes: map[string]int64{"forms": 1},
			Cold: map[string]float64{"FormsFunction": 1}, Results: []result{{Name: "x"}}, Capacity: []capacity{{Operation: "x", Calls: []call{{Op: "PutItem", Items: 1, Units: 1, Parts: map[string]float64{"t": 1}}}}},
			WCU: map[string]float64{"x": 1}, RoundTrips: map[string]int{"x": 1}, PeakKB: map[string]int64{"x": 1},
			FanOut: fanOutBench{Senders: []senderRun{{Concurrent: 1}}}, Sections: map[string]sectionResult{},
			CPU:            cpuBench{PerRequest: map[string]float64{"signup": 1}, ByFunction: map[string]float64{"signup.FormsFunction": 1}},
			CPUMSPerSignup: 1, CPUMSPerContact: 1, CPUMSPerRightsFiling: 1})
		_ = json.Unmarshal(b, &doc)
		secs := map[string]any{}
		for _, name := range sections {
			secs[name] = map[string]any{"seconds": 1.0}
		}
		doc["sections"] = secs
		return doc
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"complete", func(map[string]any) {}, ""},
		{"a figure missing", func(d map[string]any) { delete(d["sweep"].(map[string]any), "ratio_vs_floor") }, "sweep.ratio_vs_floor: missing"},
		{"a section's figures missing", func(d map[string]any) { delete(d, "campaign") }, "campaign: missing"},
		{"nothing measured", func(d map[string]any) { d["results"] = []any{} }, "results: empty"},
		{"a section failed", func(d map[string]any) {
			d["sections"].(map[string]any)["sweep"] = map[string]any{"seconds": 1.0, "error": "boom"}
		}, `section sweep failed: "boom"`},
		{"no CPU measured", func(d map[string]any) { d["cpu_ms_per_signup"] = 0.0 }, "cpu_ms_per_signup: not above 0"},
		{"a section did not run", func(d map[string]any) { delete(d["sections"].(map[string]any), "campaign") }, "section campaign did not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := complete()
			tc.change(doc)
			b, _ := json.Marshal(doc)
			got := strings.Join(checkReport(b), "; ")
			if got != tc.want {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

// The report as it stands is on disk after every section of the main
// sequence: a section that fails or panics keeps the figures of those
// before it, and a bench killed later (a harness's timeout) leaves them.
func TestReportWrittenAfterEachSection(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.json")
	rep := report{Sections: map[string]sectionResult{}, Sizes: map[string]int64{}, out: out}
	steps := []struct {
		name string
		f    func() error
		// want is the section's error as written ("" for none).
		want string
	}{
		{"bootstrap_bytes", func() error { rep.Sizes["forms"] = 42; return nil }, ""},
		{"stack", func() error { return fmt.Errorf("no SQS server") }, "no SQS server"},
		{"sweep", func() error { panic("boom") }, "panic: boom"},
	}
	for _, st := range steps {
		rep.step(st.name, st.f)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("after %s: nothing written: %v", st.name, err)
		}
		var doc struct {
			Sizes    map[string]int64         `json:"bootstrap_bytes"`
			Sections map[string]sectionResult `json:"sections"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("after %s: %v", st.name, err)
		}
		if doc.Sizes["forms"] != 42 {
			t.Errorf("after %s: bootstrap_bytes.forms %d, want 42", st.name, doc.Sizes["forms"])
		}
		sec, ok := doc.Sections[st.name]
		if !ok || sec.Error != st.want {
			t.Errorf("after %s: section %+v (written %v), want error %q", st.name, sec, ok, st.want)
		}
	}
}
