"""The entry point decides about paramiko from the parsed arguments; importing the package changes nothing."""

import subprocess
import sys

from conftest import ROOT


def py(code, env=None):
    import os
    full = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "REPROLAB_SSH")}
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=full)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_package_leaves_sys_modules_alone():
    assert py("import sys, reprolab; print('paramiko' in sys.modules)") == "False"


def test_cli_keeps_paramiko_out_unless_an_ssh_engine_is_named():
    code = ("import sys; from reprolab import cli; args = cli.parser().parse_args({argv!r}); "
            "cli._keep_paramiko_out(args); print(sys.modules.get('paramiko', 'absent') is None)")
    assert py(code.format(argv=["run", "--host", "tcp://127.0.0.1:1"])) == "True"
    assert py(code.format(argv=["run", "--host", "ssh://root@127.0.0.1:22"])) == "False"
    assert py(code.format(argv=["list"]), env={"DOCKER_HOST": "ssh://root@h"}) == "False"
    assert py(code.format(argv=["list"]), env={"REPROLAB_SSH": "1"}) == "False"


def test_the_cli_module_imports_no_docker_before_main():
    assert py("import sys; import reprolab.cli; print('docker' in sys.modules)") == "False"
