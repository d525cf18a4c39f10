from reprolab.runs import verdict


def test_one_verdict_line():
    out = ('noise\nmore\nREPROLAB-RESULT {"outcome": "reproduced", "attempts": 3, "evidence": {"inodes": [1]}, '
           '"versions": {"go": "go1.19"}}\ntrailing output\n')
    v, why = verdict.parse(out)
    assert why is None
    assert (v.outcome, v.attempts, v.evidence, v.versions) == ("reproduced", 3, {"inodes": [1]}, {"go": "go1.19"})


def test_two_verdict_lines_are_an_error_naming_both():
    out = ('noise\nREPROLAB-RESULT {"outcome": "error", "attempts": 0}\n'
           'more\nREPROLAB-RESULT {"outcome": "reproduced", "attempts": 3}\n'
           'REPROLAB-RESULT {"outcome": "reproduced", "attempts": 4}\n')
    assert verdict.parse(out) == (None, (
        "3 verdict lines on stdout, a reproducer prints exactly one: "
        "line 2 'REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0}' and "
        "line 4 'REPROLAB-RESULT {\"outcome\": \"reproduced\", \"attempts\": 3}'"))


def test_long_verdict_lines_are_named_shortly():
    line = 'REPROLAB-RESULT {"outcome": "reproduced", "evidence": {"x": "' + "a" * 500 + '"}}'
    v, why = verdict.parse(line + "\n" + line + "\n")
    assert v is None and why.count("a" * 40 + "…'") == 2 and len(why) < 400


def test_max_line_counts_bytes():
    # 'é' is two bytes in UTF-8: fewer than MAX_LINE characters, more than MAX_LINE bytes
    pad = "é" * (verdict.MAX_LINE // 2)
    line = 'REPROLAB-RESULT {"outcome": "reproduced", "evidence": {"x": "' + pad + '"}}'
    assert len(line) < verdict.MAX_LINE < len(line.encode())
    assert verdict.parse(line) == (None, f"verdict line longer than {verdict.MAX_LINE} bytes")
    ascii_line = 'REPROLAB-RESULT {"outcome": "reproduced", "evidence": {"x": "' + "a" * (verdict.MAX_LINE - 200) + '"}}'
    assert verdict.parse(ascii_line)[1] is None


def test_missing_line():
    assert verdict.parse("reproduced!\n") == (None, "no verdict line (REPROLAB-RESULT {...}) on stdout")


def test_free_text_is_never_read():
    v, why = verdict.parse("*** inode race detected after 1 attempts\n")
    assert v is None


def test_bad_json():
    v, why = verdict.parse("REPROLAB-RESULT {outcome: reproduced}\n")
    assert v is None and why.startswith("verdict line is not JSON")


def test_harness_only_outcome_refused():
    v, why = verdict.parse('REPROLAB-RESULT {"outcome": "hang"}\n')
    assert v is None and why == "verdict outcome 'hang' is not one of reproduced, not-reproduced, skipped, error"


def test_bad_attempts_and_keys():
    assert verdict.parse('REPROLAB-RESULT {"outcome": "reproduced", "attempts": -1}')[1] == \
        "verdict attempts -1 is not a non-negative integer"
    assert verdict.parse('REPROLAB-RESULT {"outcome": "reproduced", "attempts": true}')[1] == \
        "verdict attempts True is not a non-negative integer"
    assert verdict.parse('REPROLAB-RESULT {"outcome": "reproduced", "extra": 1}')[1] == \
        "verdict has unknown keys: extra"
    assert verdict.parse('REPROLAB-RESULT {"outcome": "reproduced", "evidence": []}')[1] == \
        "verdict evidence and versions must be JSON objects"


def test_scan_reads_byte_chunks_to_their_end():
    lines = [b"x" * 100 + b"\n"] * 100_000 + [b'REPROLAB-RESULT {"outcome": "reproduced"}\n'] + [b"after\n"] * 1000
    v, why = verdict.scan(iter(lines))  # 10 MB before the verdict, 1000 lines after it
    assert why is None and v.outcome == "reproduced"
    # a verdict split across chunks, a last line without a newline, CRLF endings
    assert verdict.scan([b"noise\nREPROLAB-RES", b'ULT {"outcome": "not-', b'reproduced"}'])[0].outcome == "not-reproduced"
    assert verdict.scan([b'REPROLAB-RESULT {"outcome": "skipped"}\r\n'])[0].outcome == "skipped"
    assert verdict.scan([b"REPROLAB-", b"RESULTS are not verdicts\n"]) == \
        (None, "no verdict line (REPROLAB-RESULT {...}) on stdout")


def test_scan_counts_every_verdict_line_and_names_the_first_two():
    chunks = [b"a\n", b'REPROLAB-RESULT {"n": 1}\n', b"b\n" * 3, b'REPROLAB-RESULT {"n": 2}\n'] + \
        [b'REPROLAB-RESULT {"n": 3}\n'] * 5
    assert verdict.scan(chunks) == (None, (
        "7 verdict lines on stdout, a reproducer prints exactly one: "
        "line 2 'REPROLAB-RESULT {\"n\": 1}' and line 6 'REPROLAB-RESULT {\"n\": 2}'"))


def test_scan_cuts_an_endless_verdict_line():
    chunks = [b"REPROLAB-RESULT {"] + [b"a" * 65536] * 100 + [b"}\n"]
    assert verdict.scan(chunks) == (None, f"verdict line longer than {verdict.MAX_LINE} bytes")
