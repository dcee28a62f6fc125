"""Training progress: a rich bar on a terminal, one plain line per epoch otherwise.

After the first epoch both print an estimate of the total time: seconds per
epoch times the epoch budget (an upper bound; early stopping usually ends the
run sooner).
"""

from __future__ import annotations

import sys
from typing import Callable


def _fmt_s(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


class EpochReporter:
    """``epoch(...)`` after every epoch; use as a context manager."""

    def __init__(self, label: str, epochs: int, start_epoch: int = 0, enabled: bool = True,
                 tty: bool | None = None, log: Callable[[str], None] = print):
        self.label, self.epochs, self.start = label, epochs, start_epoch
        self.enabled, self.log = enabled, log
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.bar = None
        self.task = None

    def __enter__(self) -> "EpochReporter":
        if self.enabled and self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.fields[info]}"), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("train", total=self.epochs, completed=self.start, info="")
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def estimate(self, epoch_seconds: float) -> str:
        left = self.epochs - self.start
        return (f"~{epoch_seconds:.1f} s/epoch: at most {_fmt_s(epoch_seconds * left)} for {left} epochs "
                f"(early stopping usually ends sooner)")

    def epoch(self, epoch: int, loss: float, seconds: float, valid: float | None, best: float, best_epoch: int,
              note: str = "") -> None:
        if not self.enabled:
            return
        parts = [f"epoch {epoch}/{self.epochs}", f"loss {loss:.4f}"]
        if valid is not None:
            parts.append(f"val ndcg@10 {valid:.4f}")
        parts.append(f"{seconds:.1f} s")
        if best_epoch:
            parts.append(f"best {best:.4f} @ {best_epoch}")
        if note:
            parts.append(note)
        line = " | ".join(parts)
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch, info=" | ".join(parts[1:]))
            if epoch == self.start + 1:
                self.bar.console.print(self.estimate(seconds))
        else:
            self.log(line)
            if epoch == self.start + 1:
                self.log(self.estimate(seconds))
