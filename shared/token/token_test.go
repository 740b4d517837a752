package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

var (
	subj  = privacy.SubjectID(strings.Repeat("ab", 32))
	other = privacy.SubjectID(strings.Repeat("cd", 32))
	now   = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
)

func signer(t testing.TB) *Signer {
	s, err := New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := signer(t)
	tok, err := s.Sign(Claims{Purpose: Unsubscribe, Subject: subj, Ref: "r-1", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tok, "+/=@") {
		t.Errorf("token is not URL-safe: %s", tok)
	}
	c, err := s.Check(tok, Unsubscribe, now)
	if err != nil || c.Subject != subj || c.Ref != "r-1" || !c.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("claims %+v, %v", c, err)
	}
}

func TestAttacks(t *testing.T) {
	s := signer(t)
	good, _ := s.Sign(Claims{Purpose: ConfirmSubscription, Subject: subj, Expires: now.Add(time.Hour)})
	otherSubject, _ := s.Sign(Claims{Purpose: ConfirmSubscription, Subject: other, Expires: now.Add(time.Hour)})
	expired, _ := s.Sign(Claims{Purpose: ConfirmSubscription, Subject: subj, Expires: now})
	otherKey, _ := New([]byte("another key of thirty-two bytes!!"))
	forged, _ := otherKey.Sign(Claims{Purpose: ConfirmSubscription, Subject: subj, Expires: now.Add(time.Hour)})
	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := map[string]struct {
		tok     string
		purpose Purpose
	}{
		"flipped first char":  {flip(good, 0), ConfirmSubscription},
		"flipped middle char": {flip(good, len(good)/2), ConfirmSubscription},
		"flipped last char":   {flip(good, len(good)-1), ConfirmSubscription},
		"truncated":           {good[:len(good)-4], ConfirmSubscription},
		"extended":            {good + "AAAA", ConfirmSubscription},
		"expired":             {expired, ConfirmSubscription},
		"other purpose":       {good, Unsubscribe},
		"other key":           {forged, ConfirmSubscription},
		"empty":               {"", ConfirmSubscription},
		"not base64":          {"!!!!", ConfirmSubscription},
		"huge":                {strings.Repeat("A", 5000), ConfirmSubscription},
	}
	for name, tt := range tests {
		if _, err := s.Check(tt.tok, tt.purpose, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	// Another subject's valid token is valid, but for that subject only:
	// callers compare the subject with the record they act on.
	if c, err := s.Check(otherSubject, ConfirmSubscription, now); err != nil || c.Subject == subj {
		t.Errorf("other subject: %+v %v", c, err)
	}
}

func FuzzCheck(f *testing.F) {
	s := signer(f)
	good, _ := s.Sign(Claims{Purpose: Preferences, Subject: subj, Ref: "x", Expires: now.Add(time.Hour)})
	f.Add(good)
	f.Add("")
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Check(tok, Preferences, now)
		if err == nil && tok != good {
			// Only a token this signer made can pass; a different string
			// that decodes to the same bytes is the same token.
			if again, _ := s.Sign(c); again != good {
				t.Fatalf("accepted a token the signer did not make: %q", tok)
			}
		}
	})
}

func TestExpiredIsTold(t *testing.T) {
	s := signer(t)
	tok, _ := s.Sign(Claims{Purpose: Export, Subject: subj, Ref: "r", Expires: now})
	if _, err := s.Check(tok, Export, now); !errors.Is(err, ErrExpired) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Check(tok, Preferences, now); errors.Is(err, ErrExpired) {
		t.Fatal("a token of another purpose must not be reported as merely expired")
	}
}

func TestMailboxToken(t *testing.T) {
	s := signer(t)
	exp := now.Add(400 * 24 * time.Hour)
	tok, err := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != MailboxLen || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("not a local part of 64 letters and digits: %q (%d)", tok, len(tok))
	}
	for _, form := range []string{tok, strings.ToUpper(tok)} { // a relay may change its case
		c, err := s.CheckMailbox(form, Unsubscribe, now)
		if err != nil || c.Subject != subj || c.Purpose != Unsubscribe || c.Ref != "" || !c.Expires.Equal(exp) {
			t.Fatalf("claims %+v, %v", c, err)
		}
	}
	// The expiry is kept to the hour, rounded up: never shorter.
	odd := exp.Add(time.Minute)
	tok2, _ := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: odd})
	if c, err := s.CheckMailbox(tok2, Unsubscribe, now); err != nil || c.Expires.Before(odd) || c.Expires.Sub(odd) >= time.Hour {
		t.Fatalf("rounded expiry %v for %v (%v)", c.Expires, odd, err)
	}
	if _, err := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Ref: "r", Expires: exp}); err == nil {
		t.Error("a mailbox token took a ref")
	}
	if _, err := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: "someone@example.com", Expires: exp}); err == nil {
		t.Error("a mailbox token took an address for a subject")
	}
}

func TestMailboxAttacks(t *testing.T) {
	s := signer(t)
	good, _ := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: now.Add(time.Hour)})
	expired, _ := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: now})
	otherKey, _ := New([]byte("another key of thirty-two bytes!!"))
	forged, _ := otherKey.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: now.Add(time.Hour)})
	mine, _ := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: other, Expires: now.Add(time.Hour)})
	urlForm, _ := s.Sign(Claims{Purpose: Unsubscribe, Subject: subj, Expires: now.Add(time.Hour)})
	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	// Another subject's hash under my token's MAC: the subject is bytes
	// 3 to 35, characters 5 to 56; the other's middle spliced in.
	spliced := good[:8] + mine[8:56] + good[56:]
	tests := map[string]struct {
		tok     string
		purpose Purpose
	}{
		"flipped first":  {flip(good, 0), Unsubscribe},
		"flipped middle": {flip(good, 30), Unsubscribe},
		"flipped last":   {flip(good, MailboxLen-1), Unsubscribe},
		"other subject":  {spliced, Unsubscribe},
		"truncated":      {good[:MailboxLen-1], Unsubscribe},
		"extended":       {good + "a", Unsubscribe},
		"expired":        {expired, Unsubscribe},
		"other purpose":  {good, Preferences},
		"other key":      {forged, Unsubscribe},
		"the URL form":   {urlForm, Unsubscribe},
		"not base32":     {strings.Repeat("1", MailboxLen), Unsubscribe},
		"empty":          {"", Unsubscribe},
		// KELVIN SIGN lowers to an ASCII k: 64 bytes that lower to fewer.
		"unicode case": {strings.Repeat("\u212a", 21) + "a", Unsubscribe},
	}
	for name, tt := range tests {
		if _, err := s.CheckMailbox(tt.tok, tt.purpose, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzCheckMailbox(f *testing.F) {
	s := signer(f)
	good, _ := s.SignMailbox(Claims{Purpose: Unsubscribe, Subject: subj, Expires: now.Add(time.Hour)})
	f.Add(good)
	f.Add("")
	f.Add(strings.ToUpper(good))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.CheckMailbox(tok, Unsubscribe, now)
		if err == nil && !strings.EqualFold(tok, good) {
			if again, _ := s.SignMailbox(c); again != good {
				t.Fatalf("accepted a mailbox token the signer did not make: %q", tok)
			}
		}
	})
}
