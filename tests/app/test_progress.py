"""A long command's progress written to a log (not a terminal): lines, not a bar that shows nothing
until the end."""

import click
from click.testing import CliRunner

from app.progress import progress


def run(every_s: float) -> list[str]:
    @click.command()
    def long_job():
        with progress("enrolling figure faces", every_s=every_s) as report:
            for done in range(1, 6):
                report(done, 5, f"figure-{done}")
            report(5, 5, label="checking the gallery")

    result = CliRunner().invoke(long_job)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_a_log_gets_the_first_and_the_last_line_and_one_at_most_every_interval():
    assert run(every_s=3600) == ["enrolling figure faces: 1/5 (20 %) figure-1",
                                 "enrolling figure faces: 5/5 (100 %) figure-5",
                                 "checking the gallery: 5/5 (100 %)"]
    assert len(run(every_s=0)) == 6
