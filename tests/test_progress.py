"""Progress off a terminal: plain lines, rate-limited, and always a last one."""

from ddclab.commands.progress import Bar, _clock


def test_off_a_terminal_progress_is_plain_rate_limited_lines(capsys):
    bar = Bar("job", 10, every_s=3600)
    for done in range(1, 10):
        bar.update(done, 10)
    assert capsys.readouterr().err == ""  # within the interval: quiet
    bar.update(10, 10)
    bar.close()
    assert capsys.readouterr().err == "job: 10/10, 0:00 elapsed\n"  # the end is always said


def test_every_update_past_the_interval_is_a_line(capsys):
    bar = Bar("job", 3, every_s=0)
    for done in range(1, 4):
        bar.update(done, 3)
    assert [ln.split(",")[0] for ln in capsys.readouterr().err.splitlines()] == ["job: 1/3", "job: 2/3", "job: 3/3"]


def test_elapsed_time_reads_as_a_clock():
    assert [_clock(s) for s in (0, 59.9, 61, 3600, 3725)] == ["0:00", "0:59", "1:01", "1:00:00", "1:02:05"]
