"""Shared files: kept once in <scenarios>/_shared/, included by several scenarios, covered by the hash."""

import shutil
from pathlib import Path

from reprolab.scenarios import catalog, render

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "shared"


def contexts(folder):
    out = {}
    for sc in catalog.load_all(folder):
        v = sc.variant("present")
        (recipe,) = sc.targets(v)
        out[sc.name] = (sc, v, recipe, render.render(sc, v, recipe))
    return out


def test_both_scenarios_get_the_one_copy():
    for name, (sc, v, recipe, ctx) in contexts(SHARED).items():
        files = dict((p, data) for p, data, _ in ctx.files)
        assert files["_shared/lib/verdict.sh"] == (SHARED / "_shared" / "lib" / "verdict.sh").read_bytes()
        assert "COPY _shared/lib/verdict.sh /src/_shared/lib/verdict.sh\n" in ctx.dockerfile
        composed = render.render(sc, v, recipe, paths=render.compose_paths(sc)).dockerfile
        assert "COPY scenarios/_shared/lib/verdict.sh /src/_shared/lib/verdict.sh\n" in composed


def test_a_change_of_the_shared_file_rebuilds_every_user(tmp_path):
    shutil.copytree(SHARED, tmp_path / "s")
    before = {n: c[3].content_hash for n, c in contexts(tmp_path / "s").items()}
    (tmp_path / "s" / "_shared" / "lib" / "verdict.sh").write_text("verdict() { :; }\n")
    after = {n: c[3].content_hash for n, c in contexts(tmp_path / "s").items()}
    assert before.keys() == after.keys() == {"alpha", "beta"}
    assert all(before[n] != after[n] for n in before)


def test_an_included_folder_brings_all_its_files(tmp_path):
    shutil.copytree(SHARED, tmp_path / "s")
    path = tmp_path / "s" / "alpha.yaml"
    path.write_text(path.read_text().replace("include: [lib/verdict.sh]", "include: [lib]"))
    (tmp_path / "s" / "_shared" / "lib" / "more.txt").write_text("x")
    sc = catalog.load_one(path)
    v = sc.variant("present")
    (recipe,) = sc.targets(v)
    ctx = render.render(sc, v, recipe)
    assert {p for p, _, _ in ctx.files if p.startswith("_shared/")} == {"_shared/lib/more.txt", "_shared/lib/verdict.sh"}
    assert "COPY _shared/lib /src/_shared/lib\n" in ctx.dockerfile
