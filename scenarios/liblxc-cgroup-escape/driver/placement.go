package main

// Judging one libcontainer run: where libcontainer placed the container (its
// manager's own paths, reported by ctr as "managed" lines) against where the
// container's process says it is. Only what the bug does counts: a move out of
// the placed cgroup towards the root, in a hierarchy libcontainer manages.
// Hierarchies it does not manage (runc 1.1.5 knows no "misc", 1.0.0-rc93 no
// "rdma"; kernel 6.1 on a v1 host mounts both) leave the container in ctr's
// own cgroup by design; they are reported apart and never count.

import (
	"path/filepath"
	"sort"
	"strings"
)

// managedPath is one "managed KEY PATH present|missing" line of ctr.
type managedPath struct {
	Subsystem string // "" for cgroup v2
	Path      string // absolute filesystem path
	Present   bool
}

// parseManaged reads ctr's "managed " lines.
func parseManaged(out string) []managedPath {
	var ms []managedPath
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(strings.TrimPrefix(l, "managed "))
		if !strings.HasPrefix(l, "managed ") || len(f) != 3 {
			continue
		}
		key := f[0]
		if key == "-" {
			key = ""
		}
		ms = append(ms, managedPath{Subsystem: key, Path: f[1], Present: f[2] == "present"})
	}
	return ms
}

// hierarchyOf finds the mounted hierarchy of a libcontainer subsystem name.
func hierarchyOf(hs []hierarchy, subsystem string) (hierarchy, bool) {
	for _, h := range hs {
		if subsystem == "" && h.Version == 2 {
			return h, true
		}
		if h.Version != 1 {
			continue
		}
		for _, c := range h.Controllers {
			if c == subsystem {
				return h, true
			}
		}
	}
	return hierarchy{}, false
}

// placedPaths maps hierarchy labels to the cgroup path (as /proc/PID/cgroup
// shows it) libcontainer placed the container in. A path it claims but that
// does not exist, or that lies in no mounted hierarchy, makes that hierarchy
// not managed; such lines are returned as problems for the evidence.
func placedPaths(hs []hierarchy, ms []managedPath) (placed map[string]string, problems []string) {
	placed = map[string]string{}
	for _, m := range ms {
		h, ok := hierarchyOf(hs, m.Subsystem)
		if !ok {
			problems = append(problems, "no mounted hierarchy for "+m.Subsystem+": "+m.Path)
			continue
		}
		if !m.Present {
			problems = append(problems, "claimed but absent: "+m.Path)
			continue
		}
		mount := strings.TrimSuffix(filepath.Clean(h.Mount), "/")
		p := filepath.Clean(m.Path)
		if p != mount && !strings.HasPrefix(p, mount+"/") {
			problems = append(problems, "outside its mount "+mount+": "+m.Path)
			continue
		}
		rel := strings.TrimPrefix(p, mount)
		if rel == "" {
			rel = "/"
		}
		l := label(h)
		if prev, dup := placed[l]; dup && prev != rel {
			problems = append(problems, "two places in "+l+": "+prev+" and "+rel)
			continue
		}
		placed[l] = rel
	}
	return placed, problems
}

// isAncestor says whether cgroup a is a proper ancestor of cgroup b.
func isAncestor(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return false
	}
	return a == "/" || strings.HasPrefix(b, a+"/")
}

// judgement of one run; lists hold "label:path" of the container's process.
type judgement struct {
	InPlace   []string // managed, where libcontainer placed it
	Escaped   []string // managed, moved to a proper ancestor of its place: the bug
	AtRoot    []string // the escaped ones that reached the namespace root
	Misplaced []string // managed, somewhere else (not the bug; the detector says error)
	Missing   []string // managed, but no line for it in the container's output
	Unmanaged []string // mounted, not managed by this libcontainer: never counted
}

// judge compares the container's cgroups with where libcontainer placed it.
func judge(placed, ctr map[string]string) judgement {
	var j judgement
	for _, l := range sortedKeys(placed) {
		want := placed[l]
		got, ok := ctr[l]
		switch {
		case !ok:
			j.Missing = append(j.Missing, l)
		case filepath.Clean(got) == filepath.Clean(want):
			j.InPlace = append(j.InPlace, l+":"+got)
		case isAncestor(got, want):
			j.Escaped = append(j.Escaped, l+":"+got)
			if filepath.Clean(got) == "/" {
				j.AtRoot = append(j.AtRoot, l)
			}
		default:
			j.Misplaced = append(j.Misplaced, l+":"+got)
		}
	}
	var rest []string
	for l := range ctr {
		if _, ok := placed[l]; !ok {
			rest = append(rest, l+":"+ctr[l])
		}
	}
	sort.Strings(rest)
	j.Unmanaged = rest
	return j
}
