package main

// Run at image build time (build.sh: go test ./driver) and so on every suite's Go.

import (
	"reflect"
	"testing"
)

// The v1 layout of Debian 12's kernel 6.1 under systemd (misc and rdma mounted).
var v1Kernel61 = []hierarchy{
	{Mount: "/sys/fs/cgroup/cpu,cpuacct", Version: 1, Controllers: []string{"cpu", "cpuacct"}, Key: "cpu,cpuacct"},
	{Mount: "/sys/fs/cgroup/memory", Version: 1, Controllers: []string{"memory"}, Key: "memory"},
	{Mount: "/sys/fs/cgroup/misc", Version: 1, Controllers: []string{"misc"}, Key: "misc"},
	{Mount: "/sys/fs/cgroup/rdma", Version: 1, Controllers: []string{"rdma"}, Key: "rdma"},
	{Mount: "/sys/fs/cgroup/systemd", Version: 1, Controllers: []string{"name=systemd"}, Key: "name=systemd"},
}

var v2Only = []hierarchy{{Mount: "/sys/fs/cgroup", Version: 2, Key: ""}}

func TestParseManaged(t *testing.T) {
	out := "self 0::/reprolab-escape-1\n0::/system/test-container\n" +
		"managed - /sys/fs/cgroup/system/test-container present\n" +
		"managed memory /sys/fs/cgroup/memory/x missing\n" +
		"managed broken\n"
	got := parseManaged(out)
	want := []managedPath{
		{Subsystem: "", Path: "/sys/fs/cgroup/system/test-container", Present: true},
		{Subsystem: "memory", Path: "/sys/fs/cgroup/memory/x", Present: false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseManaged = %#v, want %#v", got, want)
	}
}

// runc 1.1.5 on kernel 6.1, v1: no path for misc; rdma managed; cpu and
// cpuacct share one hierarchy.
func v115Paths() []managedPath {
	p := "/reprolab-escape-7/system/test-container"
	return []managedPath{
		{"cpu", "/sys/fs/cgroup/cpu,cpuacct" + p, true},
		{"cpuacct", "/sys/fs/cgroup/cpu,cpuacct" + p, true},
		{"memory", "/sys/fs/cgroup/memory" + p, true},
		{"rdma", "/sys/fs/cgroup/rdma" + p, true},
		{"name=systemd", "/sys/fs/cgroup/systemd" + p, true},
	}
}

func TestPlacedPathsV1SkipsUnmanagedMisc(t *testing.T) {
	placed, problems := placedPaths(v1Kernel61, v115Paths())
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	p := "/reprolab-escape-7/system/test-container"
	want := map[string]string{"cpu,cpuacct": p, "memory": p, "rdma": p, "name=systemd": p}
	if !reflect.DeepEqual(placed, want) {
		t.Fatalf("placed = %v, want %v", placed, want)
	}
}

func TestPlacedPathsV2(t *testing.T) {
	placed, problems := placedPaths(v2Only, []managedPath{{"", "/sys/fs/cgroup/system/test-container", true}})
	if len(problems) != 0 || !reflect.DeepEqual(placed, map[string]string{"unified": "/system/test-container"}) {
		t.Fatalf("placed = %v, problems %v", placed, problems)
	}
}

func TestPlacedPathsProblems(t *testing.T) {
	placed, problems := placedPaths(v1Kernel61, []managedPath{
		{"memory", "/sys/fs/cgroup/memory/a", false},      // absent: not managed
		{"hugetlb", "/sys/fs/cgroup/hugetlb/a", true},     // not mounted
		{"rdma", "/elsewhere/a", true},                    // not under its mount
		{"cpu", "/sys/fs/cgroup/cpu,cpuacct/a", true},     // fine
		{"cpuacct", "/sys/fs/cgroup/cpu,cpuacct/b", true}, // contradicts cpu
	})
	if len(problems) != 4 || !reflect.DeepEqual(placed, map[string]string{"cpu,cpuacct": "/a"}) {
		t.Fatalf("placed = %v, problems %v", placed, problems)
	}
}

func TestIsAncestor(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"/", "/x", true},
		{"/", "/", false},
		{"/x", "/x/y/z", true},
		{"/x", "/x", false},
		{"/x", "/xy/z", false},
		{"/x/y", "/x", false},
	}
	for _, c := range cases {
		if got := isAncestor(c.a, c.b); got != c.want {
			t.Errorf("isAncestor(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// The case of issue 16: on a real v1 host the container stays in ctr's own
// misc cgroup, which runc 1.1.5 never manages. Before, that read "escaped".
func TestJudgeUnmanagedMiscIsNotAnEscape(t *testing.T) {
	placed, _ := placedPaths(v1Kernel61, v115Paths())
	p := "/reprolab-escape-7/system/test-container"
	ctr := map[string]string{"cpu,cpuacct": p, "memory": p, "rdma": p, "name=systemd": p, "misc": "/reprolab-escape-7"}
	j := judge(placed, ctr)
	if len(j.Escaped) != 0 || len(j.Misplaced) != 0 || len(j.Missing) != 0 {
		t.Fatalf("judgement %+v", j)
	}
	if len(j.InPlace) != 4 || !reflect.DeepEqual(j.Unmanaged, []string{"misc:/reprolab-escape-7"}) {
		t.Fatalf("judgement %+v", j)
	}
}

func TestJudgeEscapesTowardsTheRoot(t *testing.T) {
	p := "/system/test-container"
	placed := map[string]string{"memory": p, "pids": p, "cpu": p, "devices": p}
	ctr := map[string]string{"memory": "/", "pids": "/system", "cpu": p, "devices": "/other", "misc": "/"}
	j := judge(placed, ctr)
	if !reflect.DeepEqual(j.Escaped, []string{"memory:/", "pids:/system"}) ||
		!reflect.DeepEqual(j.AtRoot, []string{"memory"}) ||
		!reflect.DeepEqual(j.InPlace, []string{"cpu:" + p}) ||
		!reflect.DeepEqual(j.Misplaced, []string{"devices:/other"}) ||
		!reflect.DeepEqual(j.Unmanaged, []string{"misc:/"}) {
		t.Fatalf("judgement %+v", j)
	}
}

func TestJudgeMissingLine(t *testing.T) {
	j := judge(map[string]string{"unified": "/system/test-container"}, map[string]string{})
	if !reflect.DeepEqual(j.Missing, []string{"unified"}) {
		t.Fatalf("judgement %+v", j)
	}
}
