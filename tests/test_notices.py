"""unet1d.notices: each warning line printed (once, with ``once``) and collected in every open block."""

from __future__ import annotations

from unet1d.notices import collected_warnings, silenced, warn


def test_a_warning_is_collected_once_and_printed_each_time_unless_once(capsys):
    """A line said twice is printed twice and collected once; a ``once`` line is printed its first time only, and
    still collected by a later block (compare's caveats hold every line its reading met)."""
    with collected_warnings() as got:
        warn("walk: repeated")
        warn("walk: repeated")
        warn("walk: once only", once=True)
        warn("walk: once only", once=True)
    assert got == ["walk: repeated", "walk: once only"]
    assert capsys.readouterr().err.count("warning: walk: repeated") == 2
    with collected_warnings() as later:
        warn("walk: once only", once=True)  # not printed again, but still this block's caveat
    assert later == ["walk: once only"] and capsys.readouterr().err == ""


def test_a_silenced_block_collects_its_lines_without_printing_them(capsys):
    """A launch's other ranks read the same data as the main one, which says each line for all of them."""
    with collected_warnings() as got, silenced():
        warn("walk: on every rank")
    with silenced(False):
        warn("walk: the main rank's")
    assert got == ["walk: on every rank"] and capsys.readouterr().err == "warning: walk: the main rank's\n"
