package lazyre

import "testing"

func TestNew(t *testing.T) {
	re := New(`^a+$`)
	if !re().MatchString("aaa") || re().MatchString("b") || re() != re() {
		t.Fatal("lazy regexp misbehaves")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an invalid pattern must panic on first use")
		}
	}()
	New(`(`)()
}
