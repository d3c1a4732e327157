"""A tqdm progress bar over the metric-call budget, with the best validation score, the number of
candidates and, when the run records it, the cost so far."""

from __future__ import annotations

import sys
from typing import IO, Any

from dspy_gepa.engine import events as ev
from dspy_gepa.tracking._cost import CostMeter


def progress_enabled(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """``progress=None`` shows the bar only when the stream (stderr) is a terminal."""
    if progress is not None:
        return bool(progress)
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """Event subscriber drawing the bar; created only when enabled, so a disabled bar prints nothing."""

    def __init__(self, *, stream: IO[str] | None = None, desc: str = "GEPA", **tqdm_kwargs: Any):
        self.stream = stream
        self.desc = desc
        self.tqdm_kwargs = tqdm_kwargs
        self.bar: Any = None
        self.best: float | None = None
        self.candidates = 0
        self.cost = CostMeter()

    def __repr__(self) -> str:
        return "<progress bar>"

    def _open(self, total: int | None) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=self.desc, unit="call", file=self.stream or sys.stderr,
                        dynamic_ncols=True, leave=True, **self.tqdm_kwargs)

    def _postfix(self) -> None:
        fields = {}
        if self.best is not None:
            fields["best"] = f"{self.best:.3f}"
        fields["candidates"] = self.candidates
        if self.cost.total is not None:
            fields["cost"] = f"${self.cost.total:.4f}"
        self.bar.set_postfix(fields, refresh=False)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.close()
            self._open(event.max_metric_calls)
            self.bar.set_description_str(f"{self.desc} (resuming)" if event.resumed else self.desc, refresh=False)
            return
        if self.bar is None:
            return
        self.cost.observe_event(event)
        if isinstance(event, ev.BudgetUpdated):
            self.bar.update(max(0, event.used - self.bar.n))
        elif isinstance(event, ev.CandidateAdded):
            self.candidates = max(self.candidates, event.idx + 1)
            if self.best is None or event.val_mean > self.best:
                self.best = event.val_mean
            self._postfix()
        elif isinstance(event, ev.BestChanged):
            self.best = event.val_mean
            self._postfix()
        elif isinstance(event, ev.ProposalCommitted):
            if not event.replayed and self.bar.desc.endswith("(resuming)"):
                self.bar.set_description_str(self.desc, refresh=False)
            self._postfix()
        elif isinstance(event, ev.RunFinished):
            self.best = event.best_val_mean
            self.candidates = event.num_candidates
            self.bar.update(max(0, event.total_metric_calls - self.bar.n))
            self._postfix()
            self.close()
        elif isinstance(event, ev.RunFailed):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
