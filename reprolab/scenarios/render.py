"""Pure rendering: (scenario, variant, recipe) → a build context (Dockerfile and files), no engine.

Every value from YAML reaches the Dockerfile as JSON (exec-form RUN/CMD, which Docker parses as JSON),
as a Docker-quoted word (ENV, LABEL: see docker_quote), or after the schema checked it against Debian's
package-name grammar, so no YAML string is parsed by a shell or expanded by Docker.
"""

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from reprolab.common import labels as lab_labels

# Installed, the templates are package data (reprolab/scenarios/images, mapped from images/ by
# pyproject.toml); in a checkout they are read from images/ itself, the one copy.
_ROOM = Path(__file__).resolve().parent
IMAGES_DIR = _ROOM / "images" if (_ROOM / "images" / "Dockerfile.j2").is_file() else _ROOM.parent.parent / "images"
LABEL_PREFIX = lab_labels.PREFIX


@dataclass(frozen=True)
class BuildContext:
    tag: str
    dockerfile: str
    files: tuple  # ((relative path, bytes, mode), ...) sorted, Dockerfile included
    content_hash: str
    labels: tuple  # ((key, value), ...)

    def tar(self):
        """The context as an uncompressed tar with fixed owners and times, so caching is stable."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs = sorted({str(Path(p).parent) for p, _, _ in self.files if str(Path(p).parent) != "."} | {"src"})
            for d in dirs:
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(info)
            for path, data, mode in self.files:
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = len(data), mode, 0
                tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        return buf


def image_tag(scenario, variant, recipe):
    return (f"reprolab/{scenario.name}:{variant.name}" + (f"-{recipe.suite}" if recipe.suite else "")
            + "".join(layer.tag_suffix for layer in recipe.layers))


def toolchain(images_dir=IMAGES_DIR):
    return tuple(yaml.safe_load((Path(images_dir) / "toolchain.yaml").read_text())["packages"])


def docker_quote(value):
    """`value` as one double-quoted word of a Dockerfile ENV or LABEL instruction, read back byte for
    byte. Docker does not read these as JSON (`tojson` left `$HOME` to expansion and `\\u0026`
    literal): inside double quotes it expands `$`, and a backslash escapes `"`, `$` and itself. A
    newline would end the instruction; the schema refuses it, and so does this function."""
    value = str(value)
    if "\n" in value or "\0" in value:
        raise ValueError(f"{value!r}: a Dockerfile word cannot hold a newline or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def environment(images_dir=IMAGES_DIR):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(images_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["docker_quote"] = docker_quote
    return env


def source_files(source_dir):
    """(path under src/, bytes, mode) of every regular file of the scenario's folder, sorted."""
    out = []
    root = Path(source_dir)
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            mode = 0o755 if os.access(p, os.X_OK) else 0o644
            out.append((f"src/{rel}", p.read_bytes(), mode))
    return sorted(out)


def shared_files(shared_dir, include):
    """(path under _shared/, bytes, mode) of each included file, and of every file of an included folder."""
    out = []
    for rel in include:
        p = Path(shared_dir) / rel
        if p.is_dir():
            out += [(f"_shared/{rel}/{sub[len('src/'):]}", data, mode) for sub, data, mode in source_files(p)]
        else:
            out.append((f"_shared/{rel}", p.read_bytes(), 0o755 if os.access(p, os.X_OK) else 0o644))
    return sorted(set(out))


LAB_PATHS = {"src": "src/", "entry": "entry.sh", "shared": "_shared/"}


def compose_paths(scenario):
    """Paths when the build context is the repository itself (docker compose)."""
    return {"src": f"scenarios/{scenario.name}/", "entry": "images/entry.sh", "shared": "scenarios/_shared/"}


def render(scenario, variant, recipe, images_dir=IMAGES_DIR, paths=LAB_PATHS, standalone=False):
    """The build context of one variant on one base; pure apart from reading templates and sources.

    `standalone`: the Dockerfile of an exported bundle (exports.bundle), built by `docker build` in
    the bundle's folder without the lab. Like `paths`, it changes the text, never the content hash:
    the hash is always that of the lab's own form, so a bundle's image carries the hash its record has."""
    env = environment(images_dir)
    entry = (Path(images_dir) / "entry.sh").read_bytes()
    files = [("entry.sh", entry, 0o755)] + source_files(scenario.source_dir)
    files += shared_files(scenario.shared_dir, recipe.include)
    command = list(scenario.run_command) + list(variant.args)
    base_labels = [
        (lab_labels.SCENARIO, scenario.name),
        (lab_labels.VARIANT, variant.name),
        (lab_labels.SUITE, recipe.suite or recipe.base),
    ] + ([(lab_labels.FIXTURE, "true")] if lab_labels.FIXTURE_TAG in scenario.tags else [])
    base_labels += [(f"{lab_labels.RELEASE}.{layer.axis}", layer.release) for layer in recipe.layers]

    def dockerfile(labels, where, alone=False):
        return env.get_template("Dockerfile.j2").render(
            scenario=scenario, variant=variant, recipe=recipe, toolchain=toolchain(images_dir),
            command=command, labels=labels, paths=where, standalone=alone)

    digest = hashlib.sha256(dockerfile(base_labels, LAB_PATHS).encode())
    for path, data, mode in files:
        digest.update(f"\0{path}\0{mode}\0".encode())
        digest.update(data)
    content_hash = digest.hexdigest()[:16]
    labels = base_labels + [(lab_labels.CONTENT_HASH, content_hash)]
    text = dockerfile(labels, paths, standalone)
    all_files = tuple(sorted([("Dockerfile", text.encode(), 0o644)] + files))
    return BuildContext(tag=image_tag(scenario, variant, recipe), dockerfile=text, files=all_files,
                        content_hash=content_hash, labels=tuple(labels))


def toolchain_labels(layer):
    return ((lab_labels.TOOLCHAIN, layer.axis), (lab_labels.TOOLCHAIN_RELEASE, layer.release),
            (lab_labels.TOOLCHAIN_VERSION, layer.toolchain), (lab_labels.TOOLCHAIN_SHA256, layer.sha256))


def toolchain_changes(layer):
    """The Dockerfile instructions given to `docker import` with one release's unpacked toolchain
    (versions.axis.Layer), whose tar holds it at layer.src: its labels, the hash of what it was
    unpacked from among them. Pure."""
    return [f"LABEL {key}={docker_quote(value)}" for key, value in toolchain_labels(layer)]
