package local

import "testing"

// TestActivityQuiet: the stack is quiet only with nothing in flight and
// every shard's reader having found its shard empty in a read begun after
// the last start or end of work (and after the wait began).
func TestActivityQuiet(t *testing.T) {
	shard := "shard"
	tests := []struct {
		name string
		run  func(a *activity)
		want bool
	}{
		{"nothing registered", func(a *activity) {}, true},
		{"a new shard not yet read", func(a *activity) { a.addShard(shard) }, false},
		{"a shard read empty since", func(a *activity) {
			a.addShard(shard)
			a.caughtUp(shard, a.now())
		}, true},
		{"an invocation in flight", func(a *activity) {
			a.addShard(shard)
			a.caughtUp(shard, a.now())
			a.begin()
		}, false},
		{"an invocation ended after the empty read began", func(a *activity) {
			a.addShard(shard)
			since := a.now()
			a.begin()
			a.end()
			a.caughtUp(shard, since)
		}, false},
		{"read empty again after it ended", func(a *activity) {
			a.addShard(shard)
			a.begin()
			a.end()
			a.caughtUp(shard, a.now())
		}, true},
		{"the wait began after the empty read", func(a *activity) {
			a.addShard(shard)
			a.caughtUp(shard, a.now())
			a.mark()
		}, false},
		{"two in flight, one ended", func(a *activity) {
			a.begin()
			a.begin()
			a.end()
		}, false},
		{"a closed shard is forgotten", func(a *activity) {
			a.addShard(shard)
			a.removeShard(shard)
		}, true},
	}
	for _, tt := range tests {
		a := newActivity()
		tt.run(a)
		if got, _, _ := a.quiet(); got != tt.want {
			t.Errorf("%s: quiet %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestActivityNil: a Function or source outside a Stack has no activity;
// every method is then a no-op.
func TestActivityNil(t *testing.T) {
	var a *activity
	a.begin()
	a.end()
	a.addShard("s")
	a.caughtUp("s", a.now())
	a.removeShard("s")
}
