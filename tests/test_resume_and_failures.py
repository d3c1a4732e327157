"""Emptied by the test renovation: resume is pinned in ``tests/invariants/test_no_lost_work.py``, the failures
in ``tests/invariants/test_loud_failures.py``, the log_dir and custom-proposer tests moved to
``tests/test_optimizer.py``. Only ``counting_task`` is left, because ``tests/tracking`` imports it from here;
delete this module once those imports read ``from ..helpers import task_lm``."""

from .helpers import task_lm as counting_task  # noqa: F401
