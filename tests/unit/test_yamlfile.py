import pytest

from reprolab.scenarios import yamlfile
from reprolab.common.errors import ScenarioError


def load(tmp_path, text, raw=None):
    p = tmp_path / "s.yaml"
    p.write_bytes(raw if raw is not None else text.encode())
    return yamlfile.load(p, "s.yaml")


def problems(tmp_path, text=None, raw=None):
    with pytest.raises(ScenarioError) as exc:
        load(tmp_path, text, raw)
    return exc.value.problems


def test_lines_of_values_and_keys(tmp_path):
    located = load(tmp_path, "a: 1\nb:\n  c: [x,\n     y]\n")
    assert located.data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert located.line(("b", "c", 1)) == 4
    assert located.key_line(("b", "c")) == 3
    assert located.line(("b", "missing")) == 3  # falls back to the closest parent


def test_duplicate_key_names_both_lines(tmp_path):
    assert problems(tmp_path, "a: 1\nb: 2\na: 3\n") == ["s.yaml:3: duplicate key 'a' (first at line 1); keep one"]


def test_aliases_are_refused(tmp_path):
    text = "a: &x [1, 2]\nb: *x\n"
    assert problems(tmp_path, text) == ["s.yaml:1: anchors and aliases are not allowed; write the value out"]


def test_alias_bomb_is_refused_without_expanding(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]")
    assert len(problems(tmp_path, "\n".join(lines) + "\n")) >= 1


def test_syntax_error_has_its_line(tmp_path):
    assert problems(tmp_path, "a: 1\nb: [1, 2\n") == ["s.yaml:3: YAML syntax error: expected ',' or ']', but got '<stream end>'"]


def test_empty_file(tmp_path):
    assert problems(tmp_path, "  \n") == ["s.yaml:1: empty file; a scenario needs at least name, title, image, run, variants"]


def test_not_utf8_names_the_line(tmp_path):
    assert problems(tmp_path, raw=b"a: 1\nb: \xff\xfe\n") == ["s.yaml:2: not UTF-8 text (byte 8); save the file as UTF-8"]
