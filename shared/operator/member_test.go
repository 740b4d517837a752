package operator_test

import (
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/operator"
)

func TestMember(t *testing.T) {
	for _, c := range []struct{ by, want string }{
		{"arn:aws:sts::123456789012:assumed-role/PrivacyTeam/alice", "arn:aws:sts::123456789012:assumed-role/PrivacyTeam"},
		{"arn:aws:sts::123456789012:assumed-role/PrivacyTeam/alice-2", "arn:aws:sts::123456789012:assumed-role/PrivacyTeam"},
		{"arn:aws:sts::123456789012:assumed-role/PrivacyTeam", "arn:aws:sts::123456789012:assumed-role/PrivacyTeam"},
		{"arn:aws:iam::123456789012:user/ann", "arn:aws:iam::123456789012:user/ann"},
		{"dpo@example.com", "dpo@example.com"},
		{"", ""},
	} {
		if got := operator.Member(c.by); got != c.want {
			t.Errorf("Member(%q) = %q, want %q", c.by, got, c.want)
		}
	}
}
