"""The smaller frictions of a scenario author (issue 13, item 9), each caught with a hint or fixed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprolab import cli
from reprolab.engines import privilege
from reprolab.results import record
from reprolab.scenarios import catalog, scaffold
from reprolab.common.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scaffolded(tmp_path):
    """A valid C scenario (lab.py new) to plant one mistake in."""
    scaffold.create(tmp_path, "s")
    return tmp_path / "s.yaml"


def problems(path):
    with pytest.raises(ScenarioError) as exc:
        catalog.load_all(path.parent)
    return [p.split(":", 1)[1] for p in exc.value.problems]


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_build_step_written_as_a_string_gets_the_list_to_write(scaffolded):
    edit(scaffolded, "    - [gcc, -O2, -Wall, -o, /out/bin/repro, repro.c]", "    - gcc -O2 -m 0755 -o /out/bin/repro repro.c")
    assert problems(scaffolded) == [
        "20: image.build.0: expected array, got a string 'gcc -O2 -m 0755 -o /out/bin/repro repro.c'; write it as "
        "an exec-form list (no shell): [gcc, -O2, -m, \"0755\", -o, /out/bin/repro, repro.c]"]


def test_a_command_written_as_a_string_gets_the_list_to_write(scaffolded):
    edit(scaffolded, "  command: [/opt/reprolab/bin/repro]", "  command: /opt/reprolab/bin/repro --fast")
    assert problems(scaffolded) == ["22: run.command: expected array, got a string '/opt/reprolab/bin/repro --fast'; "
                                    "write it as an exec-form list (no shell): [/opt/reprolab/bin/repro, --fast]"]


@pytest.mark.parametrize("indent", ["   timeout: 60", " timeout: 60"])
def test_an_indentation_error_gets_a_hint(scaffolded, indent):
    edit(scaffolded, "\n  timeout: 60", "\n" + indent)
    [problem] = problems(scaffolded)
    assert problem.startswith("23: YAML syntax error: ") and "check the indentation of this line and the one above" in problem


def test_a_tab_gets_a_hint(scaffolded):
    edit(scaffolded, "\n  timeout: 60", "\n\ttimeout: 60")
    [problem] = problems(scaffolded)
    assert problem.endswith("; indent with spaces, not tabs")


def test_a_source_file_that_is_not_there_is_caught_before_building(scaffolded):
    edit(scaffolded, "/out/bin/repro, repro.c]", "/out/bin/repro, src/repro.c]")
    [problem] = problems(scaffolded)
    assert problem.startswith("20: image.build.0: 'src/repro.c' is not in the sources folder ")
    assert problem.endswith("s/; add the file or fix the path")


def test_a_command_no_step_writes_is_caught_before_building(scaffolded):
    edit(scaffolded, "-o, /out/bin/repro,", "-o, /out/bin/reproducer,")
    assert problems(scaffolded) == [
        "22: run.command: /opt/reprolab/bin/repro is /out/bin/repro of the build stage, which no step of image.build "
        "writes; write it there (e.g. -o /out/bin/repro) or fix run.command"]


@pytest.mark.parametrize("steps", ["    - [install, -m, \"0755\", repro.c, /out/bin/]",  # a folder above it
                                   "    - [make]",                                        # outputs not named
                                   "    - [sh, -c, \"gcc -o /out/bin/repro repro.c\"]"])  # inside a shell line
def test_a_command_the_lab_cannot_judge_is_left_to_the_build(scaffolded, steps):
    edit(scaffolded, "    - [gcc, -O2, -Wall, -o, /out/bin/repro, repro.c]", steps)
    assert len(catalog.load_all(scaffolded.parent)) == 1


def test_the_shipped_scenarios_pass_the_new_checks():
    assert len(catalog.load_all(ROOT / "scenarios")) >= 4


@pytest.mark.parametrize("command", ["validate", "list", "show", "run", "compare", "report", "compose", "new"])
def test_global_options_work_after_the_command(command):
    extra = {"compare": ["x.json"], "new": ["x"]}.get(command, [])
    args = cli.parser().parse_args([command, *extra, "--scenarios", "S", "--results", "R"])
    assert (args.scenarios, args.results) == ("S", "R")


def _fresh_clone_results(tmp_path):
    """A results folder as a fresh clone has it: only reference/ records."""
    ref = tmp_path / "results" / "reference"
    ref.mkdir(parents=True)
    src = sorted((ROOT / "results" / "reference").glob("*.json"))[-1]
    (ref / src.name).write_text(src.read_text())
    return tmp_path / "results", src.name


def test_show_reads_the_reference_records_of_a_fresh_clone(tmp_path, capsys):
    results, name = _fresh_clone_results(tmp_path)
    assert record.find(results) == results / "reference" / name
    assert record.find(results, name[:15]) == results / "reference" / name
    assert cli.main(["show", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"record: {results / 'reference' / name}" in out
    assert cli.main(["show", "--list", "--results", str(results)]) == 0
    assert json.loads((results / "reference" / name).read_text())["run_id"] in capsys.readouterr().out


def test_compare_help_explains_the_cell_notation():
    text = cli.parser()._subparsers._group_actions[0].choices["compare"].format_help()
    flat = " ".join(text.split())
    assert "k/N [low-high]" in flat and "reproduced in k of N runs" in flat


def test_compare_into_a_closed_pipe_ends_quietly():
    # `lab.py compare … | head -1` once head has exited; the reader is closed before the lab starts,
    # so its first write meets EPIPE every time (a live head would make this a race).
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "lab.py", "compare", "results/reference"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_the_privileged_fallback_notice_is_not_cut_mid_word():
    reason = ("docker: Error response from daemon: OCI runtime create failed: container_linux.go:380: starting "
              "container process caused: unable to apply caps: operation not permitted: unknown")
    clipped = privilege.clip(reason, 120)
    assert len(clipped) <= 120 and clipped.endswith("…")
    assert reason.startswith(clipped[:-1]) and reason[len(clipped) - 1] == " "
    assert privilege.clip("short reason\n", 120) == "short reason"
