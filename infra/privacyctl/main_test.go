package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/operator"
)

// Every command is found by its name, has its help, and takes its own
// flags and no other command's.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] || c.help == "" || (c.run == nil) == (c.ask == nil) {
			t.Errorf("%q: a command needs a unique name, a help line, and an operator action or a run (not both)", c.name)
		}
		seen[c.name] = true
		if got, _ := lookup(strings.Fields(c.name)); got == nil || got.name != c.name {
			t.Errorf("%q is not found by its name", c.name)
		}
	}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"deny", "r-1", "-reason", "no data"}, true},
		{[]string{"deny", "-reason", "no data", "r-1"}, true}, // the id after the flags
		{[]string{"deny", "r-1", "-until", "2027-01-01"}, false},
		{[]string{"deny"}, false},
		{[]string{"deny", "r-1", "r-2"}, false},
		{[]string{"extend", "r-1", "-reason", "r", "-until", "2027-01-01"}, true},
		{[]string{"hold", "list"}, true},
		{[]string{"hold", "list", "-email", "a@example.com"}, false},
		{[]string{"hold", "add", "-email", "a@example.com", "-reason", "litigation", "-until", "2030-01-01"}, true},
		{[]string{"hold", "lift", "-until", "2030-01-01"}, false},
		{[]string{"processor", "remove", "p-1", "-api", "http://127.0.0.1:3000/v1/operator"}, true},
		// A team action has no table access of its own, and names no one.
		{[]string{"processor", "remove", "p-1", "-endpoint", "http://127.0.0.1:8000"}, false},
		{[]string{"deny", "r-1", "-reason", "no", "-as", "someone-else"}, false},
		{[]string{"reapply-erasures", "-endpoint", "http://127.0.0.1:8000", "-since", "2026-01-01"}, true},
		{[]string{"ledger", "verify", "-from", "2026-12-01", "-json"}, true},
		{[]string{"ledger", "verify", "-api", "http://127.0.0.1:3000/v1/operator"}, false},
		{[]string{"retention", "backfill", "-api", "http://127.0.0.1:3000/v1/operator"}, false},
		{[]string{"list", "-status", "pending", "-json", "-overdue"}, true},
		{[]string{"list", "-note", "x"}, false},
	} {
		c, rest := lookup(tc.args)
		if c == nil {
			t.Errorf("%v: no command", tc.args)
			continue
		}
		_, _, err := parse(c, rest)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errUsage)) {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
}

// Help lists the commands, and tells one command's own flags; neither
// needs AWS, and an unknown command is a usage error.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out); err != nil || !strings.Contains(out.String(), "hold add -email ADDRESS") {
		t.Fatalf("help: %v %s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"extend", "-h"}, &out); err != nil || !strings.Contains(out.String(), "-until") ||
		strings.Contains(out.String(), "-note") {
		t.Fatalf("extend -h: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"erase-everyone"}, &out); !errors.Is(err, errUsage) {
		t.Fatalf("unknown command: %v", err)
	}
}

// Each team action is the operator's action of the same name, and every
// operator action has its command.
func TestEveryOperatorActionHasItsCommand(t *testing.T) {
	var asked []string
	for _, c := range commands {
		if c.ask != nil {
			asked = append(asked, c.name)
		}
	}
	slices.Sort(asked)
	if want := operator.Actions(); !slices.Equal(asked, want) {
		t.Fatalf("privacyctl asks %v, the operator has %v", asked, want)
	}
}
