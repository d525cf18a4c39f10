package main

import (
	"strings"
	"testing"
)

// Before issue 16 every libcontainer run said "skipped" on a v2-only host; the
// real builds must run there, only the cgmanager-era model stays v1-only.
func TestLibcontainerSkip(t *testing.T) {
	if r := libcontainerSkip(0, []string{"plain", "liblxc"}); r != "" {
		t.Errorf("real builds on v2 skipped: %q", r)
	}
	if r := libcontainerSkip(0, []string{"model"}); !strings.HasPrefix(r, "needs cgroup v1") {
		t.Errorf("model on v2 not skipped with the reason: %q", r)
	}
	for _, b := range [][]string{{"plain", "liblxc"}, {"model"}} {
		if r := libcontainerSkip(9, b); r != "" {
			t.Errorf("%v on v1 skipped: %q", b, r)
		}
	}
}
