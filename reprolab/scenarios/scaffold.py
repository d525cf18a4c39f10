"""`lab.py new NAME`: a scenario to start from, which validates and runs as created.

The scaffold reproduces something real and tiny: whether a file descriptor opened without
O_CLOEXEC reaches a program the reproducer execs. One variant opens it without the flag (the "bug":
reproduced), one with it (not-reproduced). The child reports what it sees in /proc/self/fd, so the
verdict comes from evidence, as every scenario's must. The library writes files; the CLI prints.
"""

import re
from pathlib import Path

from reprolab.common.errors import UserError

LANGS = ("c", "go", "python", "shell")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")  # scenarios/schema.json $defs.name
# The file the reproducer opens: in every Debian base, readable by nobody, and a regular file (not a
# symlink such as /etc/os-release), so the child's readlink names it exactly as it was opened.
TARGET = "/etc/debian_version"

_C = r'''/* Does an fd opened without O_CLOEXEC reach a program we exec? The child (readlink) tells. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *target = "@TARGET@";
    int cloexec = argc > 2 && strcmp(argv[2], "cloexec") == 0;
    int fd = open(target, O_RDONLY | (cloexec ? O_CLOEXEC : 0));
    if (fd < 0) {
        printf("REPROLAB-RESULT {\"outcome\": \"error\", \"evidence\": {\"open\": \"failed\"}}\n");
        return 0;
    }
    char link[64], seen[4096] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        execlp("readlink", "readlink", link, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    ssize_t n = read(out[0], seen, sizeof seen - 1);
    seen[n > 0 ? n : 0] = 0;
    seen[strcspn(seen, "\n")] = 0;
    waitpid(pid, NULL, 0);
    int inherited = strcmp(seen, target) == 0;
    printf("REPROLAB-RESULT {\"outcome\": \"%s\", \"attempts\": 1, \"evidence\": {\"fd\": %d, "
           "\"o_cloexec\": %s, \"child_sees\": \"%s\"}}\n",
           inherited ? "reproduced" : "not-reproduced", fd, cloexec ? "true" : "false", seen);
    return 0;
}
'''

_GO = r'''// Does an fd opened without O_CLOEXEC reach a program we exec? The child (readlink) tells.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

func main() {
	target := "@TARGET@"
	cloexec := len(os.Args) > 2 && os.Args[2] == "cloexec"
	flags := syscall.O_RDONLY
	if cloexec {
		flags |= syscall.O_CLOEXEC
	}
	// syscall.Open, not os.Open: os.Open always sets O_CLOEXEC.
	fd, err := syscall.Open(target, flags, 0)
	if err != nil {
		fmt.Printf("REPROLAB-RESULT {\"outcome\": \"error\", \"evidence\": {\"open\": %q}}\n", err.Error())
		return
	}
	out, _ := exec.Command("readlink", fmt.Sprintf("/proc/self/fd/%d", fd)).Output()
	seen := strings.TrimSpace(string(out))
	outcome := "not-reproduced"
	if seen == target {
		outcome = "reproduced"
	}
	evidence, _ := json.Marshal(map[string]interface{}{"fd": fd, "o_cloexec": cloexec, "child_sees": seen})
	fmt.Printf("REPROLAB-RESULT {\"outcome\": %q, \"attempts\": 1, \"evidence\": %s}\n", outcome, evidence)
}
'''

_PYTHON = r'''#!/usr/bin/python3
"""Does an fd without close-on-exec reach a program we exec? The child (readlink) tells."""
import json
import os
import subprocess
import sys

TARGET = "@TARGET@"
cloexec = sys.argv[2:3] == ["cloexec"]
fd = os.open(TARGET, os.O_RDONLY)  # Python sets O_CLOEXEC by default (PEP 446)
if not cloexec:
    os.set_inheritable(fd, True)
seen = subprocess.run(["readlink", f"/proc/self/fd/{fd}"], close_fds=False,
                      stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
verdict = {"outcome": "reproduced" if seen == TARGET else "not-reproduced", "attempts": 1,
           "evidence": {"fd": fd, "o_cloexec": cloexec, "child_sees": seen}}
print("REPROLAB-RESULT " + json.dumps(verdict))
'''

_SHELL = r'''#!/bin/sh
# Does an fd the shell opened reach a program it execs? The child (readlink) tells.
# A shell cannot set close-on-exec, so the "cloexec" mode closes fd 3 for the child (3<&-).
target=@TARGET@
exec 3<"$target"
if [ "${2:-}" = cloexec ]; then
    seen=$(readlink /proc/self/fd/3 3<&- || true)
else
    seen=$(readlink /proc/self/fd/3 || true)
fi
if [ "$seen" = "$target" ]; then outcome=reproduced; else outcome=not-reproduced; fi
printf 'REPROLAB-RESULT {"outcome": "%s", "attempts": 1, "evidence": {"fd": 3, "closed_for_child": %s, "child_sees": "%s"}}\n' \
    "$outcome" "$([ "${2:-}" = cloexec ] && echo true || echo false)" "$seen"
'''

# --read compare: an upstream-style reproducer printing a control and a treatment, no verdict line;
# the lab compares the sections (read.compare in the YAML), judged by what the child sees.
_SHELL_COMPARE = r'''#!/bin/sh
# Upstream-style reproducer: no verdict line. It prints what fds 0-5 of a child (readlink) point
# to, first with fd 3 closed for the child (the control), then with the suspect: fd 3 left open
# (mode leak) or closed as well (mode cloexec). The lab compares the two sections (read.compare).
target=@TARGET@
exec 3<"$target"
show() {  # $1: open or closed (fd 3 for the child)
    for n in 0 1 2 3 4 5; do
        if [ "$1" = open ]; then
            seen=$(readlink /proc/self/fd/$n 2>/dev/null)
        else
            seen=$(readlink /proc/self/fd/$n 2>/dev/null 3<&-)
        fi
        echo "fd $n: ${seen:-none}"
    done
}
echo "WITHOUT THE SUSPECT"
show closed
echo
echo "WITH THE SUSPECT"
if [ "${2:-}" = cloexec ]; then show closed; else show open; fi
'''

# What _SHELL_COMPARE prints in mode leak (its pipe inodes vary; the rule normalises them).
_SHELL_COMPARE_SAMPLE = """WITHOUT THE SUSPECT
fd 0: /dev/null
fd 1: pipe:[4711]
fd 2: /dev/null
fd 3: none
fd 4: none
fd 5: none

WITH THE SUSPECT
fd 0: /dev/null
fd 1: pipe:[4712]
fd 2: /dev/null
fd 3: @TARGET@
fd 4: none
fd 5: none
"""

_READ_COMPARE = r'''  # No verdict line: the lab splits the output at the marker lines and compares the facts of
  # the treatment with the control's (docs/authoring.md, "Control and treatment: read.compare").
  read:
    compare:
      control: {name: without, marker: '^WITHOUT THE SUSPECT$'}
      treatments:
        - {name: with, marker: '^WITH THE SUSPECT$'}
      facts: '^fd ([0-9]+): (.*)$'   # the child's fds, compared fd by fd
      key: 1
      value: 2
      normalize:
        - {pattern: 'pipe:\[[0-9]+\]', replace: 'pipe:[inode]'}   # a new pipe for each child
      sample: sample.txt   # what repro.sh printed; validate checks the rule against it
'''

# lang: (source file, its text, image keys, build steps)
_LANGS = {
    "c": ("repro.c", _C, "", '    - [gcc, -O2, -Wall, -o, /out/bin/repro, repro.c]'),
    "go": ("repro.go", _GO, "", '    - [go, build, -o, /out/bin/repro, ./repro.go]'),
    "python": ("repro.py", _PYTHON, "  toolchain: false\n  packages: [python3]\n",
               '    - [install, -m, "0755", repro.py, /out/bin/repro]'),
    "shell": ("repro.sh", _SHELL, "  toolchain: false\n", '    - [install, -m, "0755", repro.sh, /out/bin/repro]'),
}

_YAML = '''name: {name}
title: "{name}: TODO one line naming the bug"
summary: >
  TODO: the bug, who hit it, the affected versions, what the lab shows. Scaffolded by
  `lab.py new` ({lang}): the reproducer opens {target} with or without O_CLOEXEC, execs
  readlink on /proc/self/fd/N, and reports reproduced when the child sees the file.
  See docs/authoring.md.
references: []
tags: [scaffold]
requires:
  cgroup: any
  # Least privilege: no capability (--cap-drop ALL), no-new-privileges, user nobody:nogroup.
  base_capabilities: none
  capabilities: []
  no_new_privileges: true
  user: "65534:65534"
image:
  suites: [bullseye, bookworm, trixie]
{image_keys}  build:
{build}
run:
  command: [/opt/reprolab/bin/repro]
  timeout: 60
  memory: 256m
  pids: 256
{read}variants:
  no-cloexec:
    description: opened without O_CLOEXEC; the exec'd child inherits the fd
    args: [--mode, leak]
    expect: reproduced
  cloexec:
    description: opened with O_CLOEXEC (closed for the child); the child does not see it
    args: [--mode, cloexec]
    expect: not-reproduced
default_variant: no-cloexec
'''


READS = ("verdict", "compare")


def create(folder, name, lang="c", read="verdict"):
    """Write FOLDER/NAME.yaml and FOLDER/NAME/<source>; return the paths written. `read`: verdict
    (the reproducer prints its REPROLAB-RESULT line) or compare (shell only: it prints a control
    and a treatment section, and the lab compares them; a sample.txt is written too).
    UserError (one line) for a bad or taken name, an unknown language or a missing folder."""
    folder = Path(folder)
    if lang not in LANGS:
        raise UserError(f"--lang {lang}: unknown language; choose from {', '.join(LANGS)}")
    if read not in READS:
        raise UserError(f"--read {read}: unknown; choose from {', '.join(READS)}")
    if read == "compare" and lang != "shell":
        raise UserError(f"--read compare: scaffolded for --lang shell only (not {lang}); add --lang shell")
    if not _NAME.match(name):
        raise UserError(f"{name!r}: not a scenario name; use lower-case letters, digits, '.' and '-' "
                        f"(starting with a letter or digit, at most 63), e.g. my-fd-leak")
    if not folder.is_dir():
        raise UserError(f"{folder}: no such scenarios folder; create it or pass --scenarios DIR")
    yaml_path, src = folder / f"{name}.yaml", folder / name
    for taken in (yaml_path, src):
        if taken.exists() or taken.is_symlink():
            raise UserError(f"{taken}: already exists; choose another name (nothing was written)")
    filename, text, image_keys, build = _LANGS[lang]
    if read == "compare":
        text = _SHELL_COMPARE
    src.mkdir()
    source = src / filename
    source.write_text(text.replace("@TARGET@", TARGET))
    if lang in ("python", "shell"):
        source.chmod(0o755)
    written = [yaml_path, source]
    if read == "compare":
        (src / "sample.txt").write_text(_SHELL_COMPARE_SAMPLE.replace("@TARGET@", TARGET))
        written.append(src / "sample.txt")
    yaml_path.write_text(_YAML.format(name=name, lang=lang, target=TARGET, image_keys=image_keys, build=build,
                                      read=_READ_COMPARE if read == "compare" else ""))
    return written
