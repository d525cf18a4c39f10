"""`pip install .` gives a `reprolab` command that works from any directory (templates and the scenario
schema are package data; scenarios come from --scenarios or ./scenarios)."""

import shutil
import subprocess
import sys
import sysconfig

from conftest import FIXTURES, ROOT


def run(*args, cwd, check=True):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_installed_command_runs_from_another_directory(tmp_path):
    import setuptools
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    # building a wheel without build isolation needs setuptools' own bdist_wheel (70.1 and later)
    assert (major, minor) >= (70, 1), (f"setuptools {setuptools.__version__} cannot build wheels offline; "
                                       f"run 'make venv' (requirements-dev.txt pins setuptools)")
    # what a wheel is built from: the project files, not the worktree's venv, records or build output
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("reprolab", "images", "scenarios"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    # The venv sees the system's packages as asked, and this interpreter's (the pinned dependencies,
    # pip, setuptools) through a .pth file: nothing is downloaded, and the venv's own site-packages,
    # where reprolab is installed, comes first.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=tmp_path)
    site = run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
               cwd=tmp_path).stdout.strip()
    (tmp_path / site / "lab-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        src, cwd=tmp_path)
    shutil.rmtree(src)  # the installed command must not read the tree it was built from

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    reprolab = venv / "bin" / "reprolab"
    where = run(venv / "bin" / "python", "-c", "import reprolab.scenarios.render as r, reprolab.scenarios.catalog as c; "
                "print(r.IMAGES_DIR); print(c.schema_path())", cwd=elsewhere).stdout.split()
    assert all(p.startswith(str(tmp_path / site)) for p in where), where

    proc = run(reprolab, "validate", "--scenarios", ROOT / "scenarios", cwd=elsewhere)
    assert proc.stdout.endswith(" variant(s): valid\n") and "6 scenario file(s)" in proc.stdout
    # no ./scenarios here: one line saying what to do
    proc = run(reprolab, "list", cwd=elsewhere, check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"lab.py: {elsewhere}/scenarios: no such scenarios folder; pass --scenarios DIR\n"
    # ./scenarios of the current directory, rendered with the packaged templates
    shutil.copytree(FIXTURES / "scenarios", elsewhere / "scenarios")
    proc = run(reprolab, "list", cwd=elsewhere)
    assert "\noutcomes     present " in proc.stdout and "\ncontainment  " in proc.stdout
    run(reprolab, "compose", "-o", elsewhere / "compose.yml", cwd=elsewhere)
    assert "services:\n  containment:" in (elsewhere / "compose.yml").read_text()
    # the report's template is package data too
    proc = run(reprolab, "report", ROOT / "results" / "reference", "-o", "r.html", cwd=elsewhere)
    # the kernel matrix (this host and six guests) and releases/ (one record per probe or run)
    n = len(list((ROOT / "results" / "reference").rglob("*.json")))
    assert n > 7 and proc.stdout == f"report of {n} record(s): r.html\n"
    assert '<table class="matrix" id="matrix">' in (elsewhere / "r.html").read_text()
