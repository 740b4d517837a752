package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// TestMain runs the tests; with PK_IAM_STATS set it appends there what the
// IAM evaluator of this test binary was asked (docs/testing.md: how much
// the enforcement costs).
func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv("PK_IAM_STATS"); path != "" {
		st := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules")).Stats()
		b, _ := json.Marshal(map[string]any{"package": "infra/e2e", "decisions": st.Decisions, "evaluations": st.Evaluations,
			"validated": st.Validated, "eval_ms": st.EvalTime.Milliseconds(), "decide_ms": st.DecideTime.Milliseconds()})
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			_, _ = f.Write(append(b, '\n'))
			_ = f.Close()
		}
	}
	os.Exit(code)
}
