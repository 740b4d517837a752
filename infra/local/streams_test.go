package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
)

// scripted answers each invocation with the next answer, and records the
// sequence numbers of each batch it was given.
type scripted struct {
	mu      sync.Mutex
	answers []string
	batches [][]string
}

func (f *scripted) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	_ = json.Unmarshal(payload, &ev)
	var seqs []string
	for _, r := range ev.Records {
		seqs = append(seqs, seqOf(r))
	}
	f.batches = append(f.batches, seqs)
	if len(f.answers) == 0 {
		return []byte("null"), nil
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func records(seqs ...string) []map[string]any {
	var out []map[string]any
	for _, s := range seqs {
		out = append(out, map[string]any{"dynamodb": map[string]any{"SequenceNumber": s}})
	}
	return out
}

// Reported item failures are retried from the first one only when the
// mapping declares ReportBatchItemFailures; without it Lambda ignores the
// answer, and so does the gateway: a function that reports failures it
// never declared loses those records in AWS, and must lose them here too.
func TestBatchItemFailuresOnlyWhenDeclared(t *testing.T) {
	failed := `{"batchItemFailures":[{"itemIdentifier":"2"}]}`
	for _, tc := range []struct {
		name     string
		declared bool
		want     string
	}{
		{"declared", true, "[[1 2 3] [2 3]]"},
		{"not declared", false, "[[1 2 3]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := &scripted{answers: []string{failed}}
			s := &streamSource{fn: fn, id: "Fn", itemFailures: tc.declared, maxRetries: -1, log: io.Discard}
			s.deliver(context.Background(), records("1", "2", "3"))
			if got := fmt.Sprint(fn.batches); got != tc.want {
				t.Fatalf("batches %s, want %s", got, tc.want)
			}
		})
	}
}
