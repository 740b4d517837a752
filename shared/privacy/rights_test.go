package privacy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDueDates(t *testing.T) {
	tests := []struct {
		reg, received, due, extended string
	}{
		{"gdpr", "2026-03-10 09:30", "2026-04-10 09:30", "2026-06-10 09:30"},
		{"gdpr", "2026-01-31 12:00", "2026-02-28 12:00", "2026-04-28 12:00"}, // no 31 February
		{"gdpr", "2028-01-31 12:00", "2028-02-29 12:00", "2028-04-29 12:00"}, // leap year
		{"gdpr", "2026-08-31 23:59", "2026-09-30 23:59", "2026-11-30 23:59"},
		{"gdpr", "2026-12-31 08:00", "2027-01-31 08:00", "2027-03-31 08:00"}, // across the year
		{"gdpr", "2027-12-30 08:00", "2028-01-30 08:00", "2028-03-30 08:00"},
		{"other", "2026-05-31 10:00", "2026-06-30 10:00", "2026-08-30 10:00"},
		{"ccpa", "2026-01-31 12:00", "2026-03-17 12:00", "2026-05-01 12:00"},
		{"ccpa", "2028-02-01 00:00", "2028-03-17 00:00", "2028-05-01 00:00"}, // leap February counts 29 days
	}
	for _, tt := range tests {
		due := DueAt(tt.reg, day(tt.received))
		if !due.Equal(day(tt.due)) {
			t.Errorf("%s %s: due %s, want %s", tt.reg, tt.received, due.Format("2006-01-02 15:04"), tt.due)
		}
		if ext := ExtendedDue(tt.reg, due); !ext.Equal(day(tt.extended)) {
			t.Errorf("%s %s: extended %s, want %s", tt.reg, tt.received, ext.Format("2006-01-02 15:04"), tt.extended)
		}
	}
}

func TestParseRightsRequest(t *testing.T) {
	ok := func(kv ...any) Input {
		in := Input{"email": "ann@example.com", "type": "access"}
		for i := 0; i < len(kv); i += 2 {
			in[kv[i].(string)] = kv[i+1]
		}
		return in
	}
	valid := []Input{ok(), ok("type", "erasure", "regulation", "ccpa", "relationship", "subscriber"),
		ok("type", "rectification", "details", "My name is spelled Zoë, not Zoe."),
		ok("type", "objection", "scope", "all"), ok("type", "portability", "recipient_email", "Ann@New-Provider.example"),
		ok("type", "rectification", "field", "phone", "value", "+44 20 7946 0000"),
		ok("type", "rectification", "field", "email", "value", "ann@new.example", "details", "I moved"),
		ok("type", "erasure", "relationship", "parent_or_guardian", "parent_email", "Mum@example.com")}
	for _, typ := range rights {
		valid = append(valid, ok("type", string(typ), "details", "x"))
	}
	for _, in := range valid {
		f, err := ParseRightsRequest(in)
		if err != nil {
			t.Errorf("%v: %v", in, err)
		}
		if f.Regulation == "" {
			t.Errorf("%v: no regulation", in)
		}
		if (f.Type == RightObjection) != (f.Scope != "") {
			t.Errorf("%v: scope %q", in, f.Scope)
		}
	}
	if f, _ := ParseRightsRequest(ok("type", "objection")); f.Scope != ScopeMarketing {
		t.Errorf("an objection's scope is marketing by default, got %q", f.Scope)
	}
	if f, _ := ParseRightsRequest(ok("type", "portability", "recipient_email", "Ann@New-Provider.example")); f.RecipientEmail != "ann@new-provider.example" {
		t.Errorf("recipient %q, want it normalised", f.RecipientEmail)
	}
	bad := []struct {
		in    Input
		field string
	}{
		{ok("type", nil), "type"},
		{ok("type", "delete_everything"), "type"},
		{ok("type", 3.0), "type"},
		{ok("type", "rectification"), "details"},
		{ok("type", "rectification", "details", "   "), "details"},
		{ok("details", strings.Repeat("d", 5001)), "details"},
		{ok("regulation", "lgpd"), "regulation"},
		{ok("relationship", "stranger"), "relationship"},
		{ok("email", "nope"), "email"},
		{ok("name", "A\nB"), "name"},
		{ok("type", "objection", "scope", "everything"), "scope"},
		{ok("type", "erasure", "scope", "all"), "scope"},
		{ok("type", "access", "recipient_email", "b@example.com"), "recipient_email"},
		{ok("type", "portability", "recipient_email", "nope"), "recipient_email"},
		{ok("type", "portability", "recipient_email", "ANN@example.com"), "recipient_email"},
		{ok("type", "rectification", "field", "shoe_size", "value", "44"), "field"},
		{ok("type", "rectification", "value", "44"), "field"},
		{ok("type", "rectification", "field", "phone"), "value"},
		{ok("type", "rectification", "field", "phone", "value", "call me"), "value"},
		{ok("type", "rectification", "field", "name", "value", "A\nB"), "value"},
		{ok("type", "rectification", "field", "email", "value", "Ann@Example.com"), "value"},
		{ok("type", "access", "field", "phone", "value", "1"), "field"},
		{ok("type", "objection", "relationship", "parent_or_guardian", "parent_email", "mum@example.com"), "type"},
		{ok("type", "erasure", "relationship", "parent_or_guardian"), "parent_email"},
		{ok("type", "erasure", "relationship", "parent_or_guardian", "parent_email", "ann@example.com"), "parent_email"},
		{ok("type", "erasure", "parent_email", "mum@example.com"), "parent_email"},
		{ok("relationship", "authorized_agent"), "agent_email"},
		{ok("relationship", "authorized_agent", "agent_email", "ANN@example.com"), "agent_email"},
		{ok("agent_email", "agent@example.com"), "agent_email"},
		// An agent never sends the person's data anywhere (fourth review).
		{ok("type", "portability", "relationship", "authorized_agent", "agent_email", "agent@example.com",
			"recipient_email", "drop@example.com"), "recipient_email"},
	}
	for _, tt := range bad {
		_, err := ParseRightsRequest(tt.in)
		v, ok := AsValidation(err)
		if !ok || !v.Fields.Has(tt.field) {
			t.Errorf("%v: got %v, want an error on %s", tt.in, err, tt.field)
		}
	}
}

func FuzzParseRightsRequest(f *testing.F) {
	f.Add("ann@example.com", "access", "", "gdpr", "visitor", "Ann")
	f.Add("a@b.c", "rectification", "my name is Ann", "ccpa", "platform_end_user", "")
	f.Add("x", "unknown", "\x00", "", "", "A\nB")
	f.Fuzz(func(t *testing.T, email, typ, details, regulation, relationship, name string) {
		r, err := ParseRightsRequest(Input{"email": email, "type": typ, "details": details, "regulation": regulation,
			"relationship": relationship, "name": name})
		if err != nil {
			if _, ok := AsValidation(err); !ok {
				t.Fatalf("non-validation error %v", err)
			}
			return
		}
		if !ValidEmail(r.Email) || r.Email != NormalizeEmail(r.Email) {
			t.Fatalf("accepted bad email %q", r.Email)
		}
		if !slices.Contains(rights, r.Type) || r.Regulation == "" || strings.ContainsAny(r.Name, "\r\n") {
			t.Fatalf("accepted %+v", r)
		}
		if r.Type == RightRectification && strings.TrimSpace(r.Details) == "" {
			t.Fatal("a rectification without details was accepted")
		}
		if len(r.Details) > 4*MaxDetails {
			t.Fatalf("details of %d bytes accepted", len(r.Details))
		}
	})
}

// FuzzParseSignup feeds any JSON object to the signup's parser: any types
// in any fields give a validation error or a valid signup, never a panic.
func FuzzParseSignup(f *testing.F) {
	f.Add(`{"email":"ann@example.com","consent":true}`)
	f.Add(`{"email":"ann@example.com","consent":"true","topics":["events","events"]}`)
	f.Add(`{"email":["x"],"consent":1,"topics":"newsletter","name":{"a":1}}`)
	f.Fuzz(func(t *testing.T, data string) {
		var in Input
		if json.Unmarshal([]byte(data), &in) != nil {
			return
		}
		s, err := ParseSignup(in)
		if err != nil {
			if _, ok := AsValidation(err); !ok {
				t.Fatalf("non-validation error %v", err)
			}
			return
		}
		if !ValidEmail(s.Email) || len(s.Topics) == 0 || strings.ContainsAny(s.Name, "\r\n") {
			t.Fatalf("accepted %+v", s)
		}
		for _, topic := range s.Topics {
			if !knownTopic(topic) {
				t.Fatalf("accepted topic %q", topic)
			}
		}
	})
}

// §7 "If requested to remove data, we will respond within 30 days": an
// erasure is due at the shorter of 30 days and the law's deadline; every
// other right keeps the law's.
func TestSiteDueAt(t *testing.T) {
	for _, tt := range []struct {
		reg      string
		typ      Right
		received string
		due      string
	}{
		{"gdpr", RightErasure, "2026-03-10 09:30", "2026-04-09 09:30"},     // 30 days, before the month's 10 April
		{"gdpr", RightErasure, "2026-02-01 09:30", "2026-03-01 09:30"},     // February's month is 28 days: shorter
		{"gdpr", RightErasure, "2026-01-31 12:00", "2026-02-28 12:00"},     // no 31 February: the month is 28 days
		{"ccpa", RightErasure, "2026-01-31 12:00", "2026-03-02 12:00"},     // 30 days, not 45
		{"gdpr", RightAccess, "2026-03-10 09:30", "2026-04-10 09:30"},      // the month
		{"ccpa", RightPortability, "2026-01-31 12:00", "2026-03-17 12:00"}, // 45 days
	} {
		if got := SiteDueAt(tt.reg, tt.typ, day(tt.received)); !got.Equal(day(tt.due)) {
			t.Errorf("%s %s %s: due %s, want %s", tt.reg, tt.typ, tt.received, got.Format("2006-01-02 15:04"), tt.due)
		}
	}
}

func TestMailDue(t *testing.T) {
	for _, tc := range []struct {
		due    MailDue
		stored string
	}{
		{Due(MailReceived, "n0nce"), "received:n0nce"},
		{Due(MailJoined, "2026-12-02T05:00:00.000000000Z"), "joined:2026-12-02T05:00:00.000000000Z"}, // a ref with colons
		{Due(MailInquiry, ""), "inquiry_received"},
		{MailDue{}, ""},
	} {
		if got := tc.due.String(); got != tc.stored {
			t.Errorf("%+v stored as %q, want %q", tc.due, got, tc.stored)
		}
		if back := ParseMailDue(tc.stored); back != tc.due {
			t.Errorf("%q read as %+v, want %+v", tc.stored, back, tc.due)
		}
	}
	if !MailErased.Last() || !MailDenied.Last() || MailRestricted.Last() || MailReceived.Last() {
		t.Error("Last: the outcome emails end a request, a restriction in place does not")
	}
}

// Every address a filing mails counts against the per-address limits,
// with its role: the requester (a parent's request mails the parent, never
// the child), an agent, a recipient, a correction's new address.
func TestMailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    RightsRequestForm
		want string
	}{
		{"the person's own", RightsRequestForm{Email: "p@x.example", Type: RightAccess}, "requester:p@x.example"},
		{"an agent's", RightsRequestForm{Email: "p@x.example", Relationship: RelationshipAgent, AgentEmail: "a@x.example"},
			"requester:p@x.example agent:a@x.example"},
		{"a parent's", RightsRequestForm{Email: "child@x.example", Relationship: RelationshipParent, ParentEmail: "par@x.example"},
			"parent:par@x.example"},
		{"to a recipient", RightsRequestForm{Email: "p@x.example", Type: RightPortability, RecipientEmail: "r@x.example"},
			"requester:p@x.example recipient:r@x.example"},
		{"a new address", RightsRequestForm{Email: "p@x.example", Type: RightRectification,
			Correction: Correction{Field: FieldEmail, Value: "n@x.example"}}, "requester:p@x.example new_address:n@x.example"},
		{"a new name", RightsRequestForm{Email: "p@x.example", Type: RightRectification,
			Correction: Correction{Field: FieldName, Value: "Ann"}}, "requester:p@x.example"},
	} {
		var got []string
		for _, m := range tc.f.Mailed() {
			got = append(got, m.Role+":"+m.Address)
		}
		if got := strings.Join(got, " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Only the person's own filings, naming nobody else, are joined.
func TestOwn(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    RightsRequest
		want bool
	}{
		{"own", RightsRequest{Type: RightAccess}, true},
		{"an agent's", RightsRequest{Type: RightAccess, Relationship: RelationshipAgent, AgentEmail: "a@x.example"}, false},
		{"a parent's", RightsRequest{Type: RightErasure, Relationship: RelationshipParent, ParentEmail: "p@x.example"}, false},
		{"to a recipient", RightsRequest{Type: RightPortability, RecipientEmail: "r@x.example"}, false},
		{"a correction", RightsRequest{Type: RightRectification, Correction: Correction{Field: FieldName, Value: "Ann"}}, false},
	} {
		if got := tc.r.Own(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
