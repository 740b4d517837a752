package privacy

import "testing"

func TestSubjectHash(t *testing.T) {
	h, err := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := h.Subject(" Ann@Example.COM ")
	if a != h.Subject("ann@example.com") {
		t.Error("normalised addresses must give the same subject")
	}
	if a == h.Subject("ann@example.co") || len(a) != 64 {
		t.Errorf("unexpected subject %q", a)
	}
	other, _ := NewHasher([]byte("another pepper of sixteen+ bytes"))
	if other.Subject("ann@example.com") == a {
		t.Error("the pepper must change the subject")
	}
	if _, err := NewHasher([]byte("short")); err == nil {
		t.Error("a short pepper was accepted")
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"jane@example.com": "j***@example.com",
		"éva@example.com":  "é***@example.com",
		"nonsense":         "***",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseContact(f *testing.F) {
	f.Add("Ann", "ann@example.com", "hi", "+1 555", "demo")
	f.Add("A\nB", "a@b", "", "x", "")
	f.Fuzz(func(t *testing.T, name, email, msg, phone, topic string) {
		form, err := ParseContact(Input{"name": name, "email": email, "message": msg, "phone": phone, "topic": topic})
		if err != nil {
			if _, ok := AsValidation(err); !ok {
				t.Fatalf("non-validation error %v", err)
			}
			return
		}
		if !ValidEmail(form.Email) || form.Email != NormalizeEmail(form.Email) {
			t.Fatalf("accepted bad email %q", form.Email)
		}
		for _, s := range []string{form.Name, form.Phone, form.Topic} {
			for _, r := range s {
				if r == '\n' || r == '\r' {
					t.Fatalf("accepted a line break in %q", s)
				}
			}
		}
	})
}

// Sub-addresses and Gmail's dots are one mailbox, for the limits.
func TestMailbox(t *testing.T) {
	for in, want := range map[string]string{
		"Ann+news@Example.com":      "ann@example.com",
		"ann@example.com":           "ann@example.com",
		"a.n.n+x@googlemail.com":    "ann@gmail.com",
		"A.nn@gmail.com":            "ann@gmail.com",
		"a.nn+1+2@example.org":      "a.nn@example.org",
		"ann+@example.com":          "ann@example.com",
		"not-an-address":            "not-an-address",
		"x+y@xn--bcher-kva.example": "x@xn--bcher-kva.example",
	} {
		if got := Mailbox(in); got != want {
			t.Errorf("Mailbox(%q) = %q, want %q", in, got, want)
		}
	}
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if h.MailboxKey("ann+1@example.com") != h.MailboxKey("ann+2@example.com") || h.MailboxKey("ann@example.com") == string(h.Subject("ann@example.com")) {
		t.Fatal("mailbox keys")
	}
}
