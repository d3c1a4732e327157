"""``RayBackend``: rollouts as Ray tasks, on a local Ray instance or a remote cluster.

What runs where. Per candidate, the adapter's runner for it (``adapter.remote_runner(candidate)``: for a
DSPy program, the built program with the candidate's instructions, the metric, the driver's LM settings
and prices) is put in Ray's object store once; each rollout is a task that takes the runner from the
store (deserialized once per worker process, then kept) and runs one example. LM usage and cost are
recorded by the runner on the worker and come back inside each :class:`Rollout`, so the driver accounts
for them exactly as it does for threads. Everything else — the budget, the journal, events, the commit
order — stays on the driver. Ray is imported only when this backend starts (``pip install
'dspy-gepa[ray]'``).

Credentials. Workers of a local instance inherit this process's environment. For a cluster, either the
nodes' own environment has them, or ``forward_env`` names variables of this process whose values are sent to
the workers through Ray's object store (in memory) and set in their environment before a rollout runs. A
``runtime_env`` works too, but Ray writes its ``env_vars``, values included, to ``runtime_env_agent.log`` on
every node, so it is no place for a key.

Faults. A task whose worker process dies (killed, out of memory, node lost) is retried by Ray up to
``max_retries`` times: the rollout's result arrives once, and the ledger, which counted the rollout when it
was dispatched, does not count the retry. LM calls the lost attempt had not finished never reported any
usage, so they are not in the totals. A rollout that keeps losing its worker stops the run with an
:class:`~dspy_gepa.exceptions.InfrastructureError`; the journal keeps everything finished, and running
again with the same ``log_dir`` resumes (on any backend).
"""

from __future__ import annotations

import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from dspy_gepa._redact import SECRET_NAME, redact
from dspy_gepa.engine.backends._base import Backend, Job, rollout_of
from dspy_gepa.engine.types import Candidate, EvaluationBatch, candidate_hash
from dspy_gepa.exceptions import ConfigurationError, InfrastructureError

logger = logging.getLogger(__name__)

#: Runners a worker process keeps deserialized (the candidates of the proposals in flight).
_KEPT_ON_WORKER = 8
#: Candidates whose runner the driver keeps in the object store.
_KEPT_ON_DRIVER = 32

_worker_runners: OrderedDict[str, Any] = OrderedDict()
#: Seconds to wait for a cluster's port to accept a connection (``ray.init`` itself retries for minutes).
_CONNECT_TIMEOUT = 10.0


def _check_reachable(address: str | None) -> None:
    """Refuse at once a ``host:port`` or ``ray://host:port`` nobody listens on."""
    if address is None or address in ("auto", "local") or ":" not in address:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT).close()
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc})") from None


class BoundAdapter:
    """The runner of an adapter without ``remote_runner``: the whole adapter (which must pickle) and the
    candidate."""

    def __init__(self, adapter: Any, candidate: Candidate):
        self.adapter = adapter
        self.candidate = candidate

    def evaluate(self, batch: list[Any], capture_traces: bool) -> EvaluationBatch:
        return self.adapter.evaluate(batch, self.candidate, capture_traces=capture_traces)


def runner_for(adapter: Any, candidate: Candidate) -> Any:
    make = getattr(adapter, "remote_runner", None)
    return make(candidate) if callable(make) else BoundAdapter(adapter, candidate)


def _load_runner(box: list) -> Any:
    """The runner of ``box`` (``[runner ref, forwarded environment ref]``), fetched once per worker process."""
    import ray

    key = box[0].hex()
    runner = _worker_runners.get(key)
    if runner is None:
        os.environ.update(ray.get(box[1]))
        runner = _worker_runners[key] = ray.get(box[0])
        while len(_worker_runners) > _KEPT_ON_WORKER:
            _worker_runners.popitem(last=False)
    return runner


def _rollout_on_worker(box: list, example: Any, capture_traces: bool) -> Any:
    """A Ray task: one rollout. The references travel inside a list so that Ray passes the references
    themselves and the worker fetches and deserializes the runner only the first time it sees it."""
    return rollout_of(_load_runner(box).evaluate([example], capture_traces))


def _probe_worker(box: list) -> None:
    """A Ray task: can a worker import this package and load a runner?"""
    _load_runner(box)


class RayBackend(Backend):
    """Runs rollouts as Ray tasks.

    ``address``: None starts a local Ray instance (unless this process already called ``ray.init``, whose
    cluster is then used); ``"auto"`` joins the cluster started on this machine with ``ray start``;
    ``"ray://host:10001"`` connects to a remote cluster through Ray Client. ``forward_env``: names of
    environment variables of this process (API keys) to set on the workers, sent through the object store,
    never logged. ``ray_init_kwargs`` go to ``ray.init`` as they are (``runtime_env``, ``num_cpus``, ...); a
    Ray instance this backend started is shut down when the run ends. ``max_retries``: attempts Ray makes
    again at a rollout whose worker died.

    At most ``num_threads`` rollouts are submitted to Ray at once: set it to about the cluster's CPUs.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, forward_env: Sequence[str] = (), max_retries: int = 3,
                 **ray_init_kwargs: Any):
        super().__init__()
        self.address = address
        self.forward_env = [forward_env] if isinstance(forward_env, str) else list(forward_env)
        self.max_retries = max_retries
        self.ray_init_kwargs = ray_init_kwargs
        self._ray: Any = None
        self._owns_ray = False
        self._remote: Any = None
        self._env_ref: Any = None
        self._refs: OrderedDict[str, Any] = OrderedDict()
        self._in_flight: dict[Job, Any] = {}

    def __repr__(self) -> str:  # never shows ray_init_kwargs: a runtime_env may hold credentials
        return f"RayBackend(address={self.address!r})"

    def start(self, adapter: Any, max_in_flight: int, seed_candidate: Candidate) -> None:
        super().start(adapter, max_in_flight, seed_candidate)
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError("RayBackend needs Ray, which is not installed: pip install 'dspy-gepa[ray]' "
                                     "(or pip install ray).") from exc
        self._ray = ray
        missing = [name for name in self.forward_env if name not in os.environ]
        if missing:
            raise ConfigurationError(f"RayBackend(forward_env=...) names environment variables this process does "
                                     f"not have: {missing}. Set them, or leave them out.")
        env_vars = (self.ray_init_kwargs.get("runtime_env") or {}).get("env_vars") or {}
        if any(SECRET_NAME.search(name) for name in env_vars):
            logger.warning("runtime_env env_vars %s look like credentials: Ray writes runtime_env values to its "
                           "logs (runtime_env_agent.log). Pass them with RayBackend(forward_env=[...]) instead.",
                           sorted(name for name in env_vars if SECRET_NAME.search(name)))
        where = self.address or "a new local Ray instance"
        if ray.is_initialized():
            if self.address is not None or self.ray_init_kwargs:
                logger.info("Ray is already initialized in this process: RayBackend uses that instance as it is "
                            "(its address and ray.init keywords are not used).")
        else:
            try:
                _check_reachable(self.address)
                ray.init(address=self.address, **self.ray_init_kwargs)
            except Exception as exc:
                raise ConfigurationError(f"RayBackend could not start Ray at {where}: {type(exc).__name__}: "
                                         f"{redact(str(exc))}. Start the cluster (`ray start --head`) or fix "
                                         "the address.") from None
            self._owns_ray = True
        self._remote = ray.remote(max_retries=self.max_retries)(_rollout_on_worker)
        self._env_ref = ray.put({name: os.environ[name] for name in self.forward_env})
        try:
            box = [self.prepare(seed_candidate), self._env_ref]
            ray.get(ray.remote(max_retries=self.max_retries)(_probe_worker).remote(box))
        except ConfigurationError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            cause = getattr(exc, "cause", None) or exc
            raise ConfigurationError(
                f"A Ray worker cannot load the program to run: {type(cause).__name__}: {redact(str(cause))}. "
                "Every node needs dspy-gepa and the modules your program, metric and LMs come from (install them "
                "on the nodes, or pass runtime_env={'pip': [...], 'working_dir': ...}).") from None
        logger.info("RayBackend: rollouts run on %s (%s CPUs), at most %d at once.", where,
                    ray.cluster_resources().get("CPU", "?"), max_in_flight)

    def prepare(self, candidate: Candidate) -> Any:
        key = candidate_hash(candidate)
        ref = self._refs.get(key)
        if ref is None:
            try:
                ref = self._ray.put(runner_for(self.adapter, candidate))
            except Exception as exc:
                raise ConfigurationError(
                    f"RayBackend cannot send the program to the workers: {type(exc).__name__}: "
                    f"{redact(str(exc))}. Everything a rollout uses (program, LMs, metric) must be picklable "
                    "with cloudpickle.") from None
            self._refs[key] = ref
            while len(self._refs) > _KEPT_ON_DRIVER:
                self._refs.popitem(last=False)
        else:
            self._refs.move_to_end(key)
        return ref

    def launch(self, job: Job) -> None:
        ref = self._remote.remote([job.handle, self._env_ref], job.example, job.capture_traces)
        self._in_flight[job] = ref
        ref.future().add_done_callback(lambda future, job=job: self._done(job, future))

    def _done(self, job: Job, future: Future) -> None:
        self._in_flight.pop(job, None)
        self.settle(job, lambda: self._result(future))

    def _result(self, future: Future) -> Any:
        """The rollout, or the adapter's own error as it was raised on the worker; Ray's failures to run it
        (retries exhausted, the cluster gone) as :class:`InfrastructureError`."""
        errors = self._ray.exceptions
        try:
            return future.result()
        except errors.RayTaskError as exc:
            if isinstance(exc.cause, BaseException):
                raise exc.cause from None
            raise
        except errors.RayError as exc:
            raise InfrastructureError(
                f"Ray could not run a rollout ({type(exc).__name__}: {redact(str(exc))[:500]}) after "
                f"{self.max_retries} retries. Everything finished is in the journal: fix the cluster and run "
                "again with the same log_dir to resume.", cause=exc) from None

    def close(self) -> None:
        super().close()
        ray, in_flight = self._ray, list(self._in_flight.values())
        self._in_flight.clear()
        self._refs.clear()
        self._env_ref = None
        if ray is None:
            return
        for ref in in_flight:
            try:
                ray.cancel(ref)
            except Exception:  # already finished, or the cluster is gone
                pass
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
