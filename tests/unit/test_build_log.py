"""A failed build's log as the console and the record show it: plain text, the step, the cause."""

from reprolab.engines import build
from reprolab.runs import images

GO_FAILURE = [
    "Step 9/14 : RUN [\"go\",\"build\",\"-o\",\"/out/bin/repro\",\".\"]",
    " ---> Running in 0123456789ab",
    "\x1b[91mmain.go:9:2: cannot find package \"golang.org/x/sys/unix\" in any of:\n\x1b[0m",
    "\x1b[91m\t/usr/lib/go-1.19/src/golang.org/x/sys/unix (from $GOROOT)\n\x1b[0m",
    "Removing intermediate container 0123456789ab",
    "The command 'go build -o /out/bin/repro .' returned a non-zero code: 1",
]


def failed(lines):
    log = [build.plain(ln) for ln in lines]
    return build.Built(False, "", 1.0, 9, 8, "\n".join(log[-build.TAIL_LINES:]), failed_step=log[0], log="\n".join(log))


def test_plain_strips_colour_cursor_and_title_sequences():
    assert build.plain("\x1b[91mred\x1b[0m") == "red"
    assert build.plain("\x1b]0;title\x07text\x1b[2K") == "text"
    assert build.plain("50%\r100%\r") == "100%"
    assert build.plain("a\x00b\x08c\td") == "abc\td"


def test_cause_is_the_compilers_last_word_not_the_engines():
    b = failed(GO_FAILURE)
    assert build.cause(b) == ["\t/usr/lib/go-1.19/src/golang.org/x/sys/unix (from $GOROOT)"]
    assert build.cause(b, lines=2)[0] == 'main.go:9:2: cannot find package "golang.org/x/sys/unix" in any of:'
    assert "\x1b" not in b.log and "\x1b" not in b.log_tail


def test_reason_names_the_step_and_the_cause():
    reason = images.failure_reason(failed(GO_FAILURE[:3] + GO_FAILURE[4:]))
    assert reason == ('image build failed in Step 9/14 : RUN ["go","build","-o","/out/bin/repro","."]: '
                      'main.go:9:2: cannot find package "golang.org/x/sys/unix" in any of: '
                      "(The command 'go build -o /out/bin/repro .' returned a non-zero code: 1)")


def test_a_failure_with_no_output_of_its_step_keeps_the_engines_word():
    b = failed([GO_FAILURE[0], GO_FAILURE[-1]])
    assert build.cause(b) == []
    assert images.failure_reason(b).endswith(": The command 'go build -o /out/bin/repro .' returned a non-zero code: 1")


def test_an_engine_failure_as_the_last_line_is_said_once():
    refused = "failed to create endpoint x on network bridge: could not find bridge docker0"
    b = failed([GO_FAILURE[0], GO_FAILURE[1], "Removing intermediate container 0123456789ab", refused])
    assert images.failure_reason(b) == f"image build failed in {GO_FAILURE[0]}: {refused}"
