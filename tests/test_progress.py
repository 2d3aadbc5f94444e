import io

from flows import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_on_a_terminal_and_stays_quiet_in_ci(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    monkeypatch.setenv("CI", "1")
    with progress.file_progress(10) as advance:
        advance(10)
    assert screen.getvalue() == ""
    monkeypatch.delenv("CI")
    with progress.file_progress(10) as advance:
        advance(4)
        advance(6)
    assert "10/10" in screen.getvalue()
