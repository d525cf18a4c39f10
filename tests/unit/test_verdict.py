from reprolab import verdict


def test_last_verdict_line_wins():
    out = ('noise\nREPROLAB-RESULT {"outcome": "error", "attempts": 0}\n'
           'more\nREPROLAB-RESULT {"outcome": "reproduced", "attempts": 3, "evidence": {"inodes": [1]}, '
           '"versions": {"go": "go1.19"}}\n')
    v, why = verdict.parse(out)
    assert why is None
    assert (v.outcome, v.attempts, v.evidence, v.versions) == ("reproduced", 3, {"inodes": [1]}, {"go": "go1.19"})


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
