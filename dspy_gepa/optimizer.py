"""``GEPA``: the DSPy teleprompter. Same keywords, defaults and ``compile`` as ``dspy.GEPA`` (DSPy 3.4)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import dspy
from dspy.teleprompt.teleprompt import Teleprompter

from dspy_gepa import _options
from dspy_gepa._run_dir import BEST_PROGRAM, JOURNAL, STOP_FILE, write_atomically
from dspy_gepa.dspy_adapter import DspyAdapter, ReflectionLimits, inputs
from dspy_gepa.dspy_adapter.feedback import check_metric_signature, metric_name
from dspy_gepa.dspy_adapter.flex import flex_parts
from dspy_gepa.engine import (
    BudgetPreview,
    Engine,
    EngineConfig,
    EventBus,
    auto_budget,
    default_concurrency,
    preview,
    read_header,
    read_journal,
)
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.backends import Backend, resolve_backend
from dspy_gepa.engine.callbacks import GepaCallbacks
from dspy_gepa.engine.usage import combine, known_cost
from dspy_gepa.exceptions import ConfigurationError
from dspy_gepa.lms import lms_to_check, run_preflight
from dspy_gepa.results import DspyGEPAResult
from dspy_gepa.tracking import TrackingOptions
from dspy_gepa.tracking import attach as attach_tracking

logger = logging.getLogger(__name__)

class GEPA(Teleprompter):
    """Reflective prompt evolution (GEPA, arXiv 2507.19457) for DSPy programs.

    A drop-in replacement for ``dspy.GEPA``: every keyword it takes has the same meaning and default,
    and ``compile(student, *, trainset, teacher=None, valset=None)`` returns a new optimized program
    (the student is left untouched), with ``detailed_results`` when ``track_stats=True``.

    What is different, on purpose:

    * the budget is a hard limit: ``total_metric_calls <= max_metric_calls`` always (a proposal starts
      only when its worst case fits);
    * ``log_dir`` holds an append-only journal; running again with the same ``log_dir`` resumes without
      repeating any recorded rollout or reflection, and refuses a journal from another configuration;
    * failures are loud: an LM outage stops the run with that error, a metric returning something that
      is not a score raises, and ``max_consecutive_failures`` unusable reflections in a row raise instead
      of returning the seed as if it were optimized;
    * ``max_merge_invocations`` counts merge attempts (each costs rollouts), not only accepted merges;
    * ``reflection_lm`` must be a ``dspy.LM`` (a string is refused before anything is spent).

    ``dspy.Flex`` submodules are optimized as code (``code_proposer``, or the built-in one); ``gepa_kwargs``
    takes gepa's strategy, stopper and callback objects (README, "Compatibility with dspy.GEPA").

    New options (beyond dspy.GEPA's):
        val_evaluation_policy: "staged" (default) scores children on a random quarter of the valset during
            the search and validates the best of them on the whole valset at the end, from a reserve kept
            for it; "full" validates every accepted child on every example (the paper's policy). The
            returned program is always one validated on every example.
        max_concurrent_proposals: most proposals in flight at once (1 = the paper's sequential loop); the
            engine runs fewer while most recent proposals are accepted (about one over the acceptance
            rate); with the staged policy a proposal evaluates its child only once the ones before it have
            committed, and is dropped when they took its parent off the front. None: ``num_threads // (2 *
            reflection_minibatch_size)``, at least 1. Results do not depend on thread timing; they do depend
            on this setting.
        max_consecutive_failures: unusable reflections in a row before the run stops with an error.
        max_reflective_records / max_reflective_chars: bounds on the reflective dataset (records per
            component, characters per field), so reflection prompts cannot grow without limit.

    Tracking and reporting (docs/tracking.md); all but ``progress`` are also accepted in ``gepa_kwargs``,
    where dspy.GEPA users pass them:
        mlflow_tracking_uri / mlflow_experiment_name: where a run GEPA starts itself is logged.
        wandb_attach_existing / mlflow_attach_existing: None logs into an active run of the host if
            there is one and starts a run otherwise; True requires an active run; False always starts
            a run of GEPA's own.
        tracking_key_prefix: prefix of every logged key, so GEPA's keys never mix with the host's.
        progress: the progress bar; None shows it only when stderr is a terminal.

    Where rollouts run (docs/scaling.md): ``backend="threads"`` (the default: ``num_threads`` threads),
    ``"async"`` (``num_threads`` coroutines on one event loop: ``program.acall``, DSPy's async LM path), or a
    backend object such as ``dspy_gepa.backends.RayBackend(address=...)`` (a Ray cluster). The result does
    not depend on the backend. An ``async def`` metric works with every backend.
    With ``log_dir``, ``log_dir/report.html`` is written when the run ends; ``dspy-gepa report LOG_DIR``
    writes it at any time.
    """

    def __init__(
        self,
        metric: Callable[..., Any],
        *,
        auto: Literal["light", "medium", "heavy"] | None = None,
        max_full_evals: int | None = None,
        max_metric_calls: int | None = None,
        reflection_minibatch_size: int | None = 3,
        candidate_selection_strategy: Literal["pareto", "current_best"] = "pareto",
        reflection_lm: dspy.BaseLM | None = None,
        skip_perfect_score: bool = True,
        add_format_failure_as_feedback: bool = False,
        instruction_proposer: Callable[..., dict[str, str]] | None = None,
        code_proposer: Callable[..., dict[str, str]] | None = None,
        component_selector: str | Callable[..., list[str]] = "round_robin",
        use_merge: bool = True,
        max_merge_invocations: int | None = 5,
        num_threads: int | None = None,
        failure_score: float = 0.0,
        perfect_score: float = 1.0,
        log_dir: str | None = None,
        track_stats: bool = False,
        use_wandb: bool = False,
        wandb_api_key: str | None = None,
        wandb_init_kwargs: dict[str, Any] | None = None,
        track_best_outputs: bool = False,
        warn_on_score_mismatch: bool = True,
        use_mlflow: bool = False,
        seed: int | None = 0,
        gepa_kwargs: dict[str, Any] | None = None,
        # Options beyond dspy.GEPA's:
        max_concurrent_proposals: int | None = None,
        val_evaluation_policy: str = "staged",
        max_consecutive_failures: int = 5,
        max_reflective_records: int = 10,
        max_reflective_chars: int = 6000,
        max_cost: float | None = None,
        lm_prices: dict[str, tuple[float, float]] | None = None,
        require_prices: bool = False,
        preflight: bool | None = None,
        # Tracking and reporting (dspy_gepa.tracking):
        mlflow_tracking_uri: str | None = None,
        mlflow_experiment_name: str | None = None,
        wandb_attach_existing: bool | None = None,
        mlflow_attach_existing: bool | None = None,
        tracking_key_prefix: str = "gepa/",
        progress: bool | None = None,
        # Where rollouts run (dspy_gepa.backends; docs/scaling.md):
        backend: Literal["threads", "async"] | Backend = "threads",
    ):
        super().__init__()
        check_metric_signature(metric)
        resolve_backend(backend)
        _options.check_keywords(
            auto=auto, max_full_evals=max_full_evals, max_metric_calls=max_metric_calls, reflection_lm=reflection_lm,
            instruction_proposer=instruction_proposer, track_stats=track_stats, track_best_outputs=track_best_outputs,
            candidate_selection_strategy=candidate_selection_strategy, component_selector=component_selector,
            reflection_minibatch_size=reflection_minibatch_size, num_threads=num_threads,
            max_concurrent_proposals=max_concurrent_proposals, max_cost=max_cost)
        self.gepa_kwargs = dict(gepa_kwargs or {})
        _options.check_gepa_kwargs(self.gepa_kwargs, reflection_minibatch_size)

        self.metric_fn = metric
        self.auto = auto
        self.max_full_evals = max_full_evals
        self.max_metric_calls = max_metric_calls
        self.reflection_minibatch_size = reflection_minibatch_size
        self.candidate_selection_strategy = candidate_selection_strategy
        self.reflection_lm = reflection_lm
        self.skip_perfect_score = skip_perfect_score
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.custom_instruction_proposer = instruction_proposer
        self.custom_code_proposer = code_proposer
        self.component_selector = component_selector
        self.use_merge = use_merge
        self.max_merge_invocations = max_merge_invocations
        self.num_threads = num_threads
        self.failure_score = failure_score
        self.perfect_score = perfect_score
        self.log_dir = log_dir
        self.track_stats = track_stats
        self.use_wandb = use_wandb
        self.wandb_api_key = wandb_api_key
        self.wandb_init_kwargs = wandb_init_kwargs
        self.track_best_outputs = track_best_outputs
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.use_mlflow = use_mlflow
        self.seed = seed
        self.max_concurrent_proposals = max_concurrent_proposals
        self.val_evaluation_policy = _options.resolve_policy(val_evaluation_policy, self.gepa_kwargs)
        self.max_consecutive_failures = max_consecutive_failures
        self.reflection_limits = ReflectionLimits(max_reflective_records, max_reflective_chars)
        self.max_cost = max_cost
        self.lm_prices = _options.check_prices(lm_prices)
        self.require_prices = require_prices
        self.preflight = preflight
        self.backend = backend
        self.tracking_options = TrackingOptions.resolve(
            use_wandb=use_wandb, wandb_api_key=wandb_api_key, wandb_init_kwargs=wandb_init_kwargs,
            wandb_attach_existing=wandb_attach_existing, use_mlflow=use_mlflow,
            mlflow_tracking_uri=mlflow_tracking_uri, mlflow_experiment_name=mlflow_experiment_name,
            mlflow_attach_existing=mlflow_attach_existing, tracking_key_prefix=tracking_key_prefix,
            progress=progress, gepa_kwargs=self.gepa_kwargs)

    # ------------------------------------------------------------------ parameters

    def get_params(self) -> dict[str, Any]:
        """The configuration as ``dspy.GEPA.get_params()`` gives it: its keys, holding the objects passed
        (the metric, the LMs, proposers, selectors, ``gepa_kwargs``), then dspy-gepa's own options.
        ``max_metric_calls`` holds the resolved budget once ``compile`` has run. What trackers log is
        :meth:`logged_params` (scalars, no credentials)."""
        return {
            "metric_fn": self.metric_fn,
            "auto": self.auto,
            "max_full_evals": self.max_full_evals,
            "max_metric_calls": self.max_metric_calls,
            "reflection_minibatch_size": self.reflection_minibatch_size,
            "candidate_selection_strategy": self.candidate_selection_strategy,
            "reflection_lm": self.reflection_lm,
            "skip_perfect_score": self.skip_perfect_score,
            "add_format_failure_as_feedback": self.add_format_failure_as_feedback,
            "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations,
            "num_threads": self.num_threads,
            "failure_score": self.failure_score,
            "perfect_score": self.perfect_score,
            "log_dir": self.log_dir,
            "track_stats": self.track_stats,
            "use_wandb": self.use_wandb,
            "wandb_api_key": self.wandb_api_key,
            "wandb_init_kwargs": self.wandb_init_kwargs,
            "warn_on_score_mismatch": self.warn_on_score_mismatch,
            "use_mlflow": self.use_mlflow,
            "track_best_outputs": self.track_best_outputs,
            "seed": self.seed,
            "custom_instruction_proposer": self.custom_instruction_proposer,
            "custom_code_proposer": self.custom_code_proposer,
            "component_selector": self.component_selector,
            "gepa_kwargs": self.gepa_kwargs,
            **self._own_params(),
        }

    def logged_params(self) -> dict[str, Any]:
        """:meth:`get_params` as plain scalars, safe to log: objects by name, the reflection LM by its model,
        no credentials, prices or ``gepa_kwargs``. What trackers record."""
        out: dict[str, Any] = {}
        for key, value in self.get_params().items():
            if key in _NOT_LOGGED:
                continue
            if key == "reflection_lm":
                value = getattr(value, "model", None) if value is not None else None
            elif key.startswith("custom_"):
                value = type(value).__name__ if value is not None else None
            elif not isinstance(value, int | float | bool | None):
                value = _name_of(value)
            out[_LOGGED_NAMES.get(key, key)] = value
        return out

    def _own_params(self) -> dict[str, Any]:
        return {
            "max_concurrent_proposals": self.max_concurrent_proposals,
            "val_evaluation_policy": self.val_evaluation_policy,
            "max_consecutive_failures": self.max_consecutive_failures,
            "max_reflective_records": self.reflection_limits.max_records,
            "max_reflective_chars": self.reflection_limits.max_chars,
            "max_cost": self.max_cost,
            "lm_prices": self.lm_prices,
            "require_prices": self.require_prices,
            "preflight": self.preflight,
            "backend": self.backend if isinstance(self.backend, str) else getattr(self.backend, "name", None)
            or type(self.backend).__name__,
            **self.tracking_options.params(),
        }

    def auto_budget(self, num_preds: int, num_candidates: int, valset_size: int, minibatch_size: int = 35,
                    full_eval_steps: int = 5) -> int:
        """Metric calls an ``auto`` preset buys, as ``dspy.GEPA.auto_budget`` computes them (same arguments)."""
        return auto_budget(num_preds, num_candidates, valset_size, minibatch_size, full_eval_steps)

    # ------------------------------------------------------------------ compile

    @property
    def _minibatch_size(self) -> int:
        """Examples per minibatch: ``reflection_minibatch_size``, or 3 (gepa's default) when it is None."""
        return self.reflection_minibatch_size or 3

    def resolve_budget(self, num_components: int, train_size: int, val_size: int | None) -> int:
        """Metric calls the run may spend, resolved like dspy.GEPA does from auto / max_full_evals."""
        return _options.resolve_budget(auto=self.auto, max_full_evals=self.max_full_evals,
                                       max_metric_calls=self.max_metric_calls, num_components=num_components,
                                       train_size=train_size, val_size=val_size)

    def compile(self, student: dspy.Module, *, trainset: list[dspy.Example], teacher: dspy.Module | None = None,
                valset: list[dspy.Example] | None = None) -> dspy.Module:
        """Optimize the instructions of ``student``'s predictors; return a new program. Afterwards
        ``max_metric_calls`` holds the budget the run was given (resolved from ``auto`` or
        ``max_full_evals`` when those were set), as with dspy.GEPA."""
        if teacher is not None:
            raise ConfigurationError("GEPA does not use a teacher program; call compile(..., teacher=None).")
        program, predictors, trainset, valset, budget = self._prepare(student, trainset, valset, warn=True)
        self.max_metric_calls = budget
        seed_candidate = _components(program)

        seed = self._resolve_seed()
        threads = self.num_threads or dspy.settings.num_threads or 1
        adapter = DspyAdapter(
            program, self.metric_fn, failure_score=self.failure_score, num_threads=self.num_threads,
            add_format_failure_as_feedback=self.add_format_failure_as_feedback, reflection_lm=self.reflection_lm,
            instruction_proposer=self.custom_instruction_proposer, code_proposer=self.custom_code_proposer,
            warn_on_score_mismatch=self.warn_on_score_mismatch,
            reflection_limits=self.reflection_limits, prices=self.lm_prices, require_prices=self.require_prices)
        config = EngineConfig(
            max_metric_calls=budget,
            minibatch_size=self._minibatch_size,
            candidate_selection=self.candidate_selection_strategy,
            component_selector=self.component_selector,
            skip_perfect_score=self.skip_perfect_score,
            perfect_score=self.perfect_score,
            use_merge=self.use_merge,
            max_merge_invocations=self.max_merge_invocations if self.max_merge_invocations is not None else 10**9,
            seed=seed,
            num_threads=threads,
            max_concurrent_proposals=self.max_concurrent_proposals or default_concurrency(
                threads, self._minibatch_size),
            val_policy=self.val_evaluation_policy,
            keep_val_outputs=self.track_best_outputs,
            max_consecutive_failures=self.max_consecutive_failures,
            max_cost=self.max_cost,
            stop_callbacks=[*_options.as_list(self.gepa_kwargs.get("stop_callbacks")),
                            *([StopFile(Path(self.log_dir) / STOP_FILE)] if self.log_dir is not None else [])],
            frontier_type=self.gepa_kwargs.get("frontier_type", "instance"),
            acceptance=self.gepa_kwargs.get("acceptance_criterion"),
            sampling=self.gepa_kwargs.get("sampling_strategy"),
            selection=self.gepa_kwargs.get("selection_strategy"),
            batch_sampler=None if self.gepa_kwargs.get("batch_sampler", "epoch_shuffled") == "epoch_shuffled"
            else self.gepa_kwargs["batch_sampler"],
        )
        backend = resolve_backend(self.backend)
        if backend.name == "async" and not callable(getattr(type(program), "aforward", None)):
            logger.warning("backend='async': %s has no aforward, so its rollouts run on the event loop's small "
                           "thread pool. Give it an `async def aforward` (calling `await predictor.acall(...)`) to "
                           "have num_threads rollouts in flight without a thread each.", type(program).__name__)
        bus = EventBus()
        if self.log_dir is not None:
            bus.subscribe(_BestProgramSaver(adapter, Path(self.log_dir)))
        attach_tracking(bus, self, adapter=adapter)
        engine = Engine(adapter, trainset, valset, seed_candidate, config, bus=bus, log_dir=self.log_dir,
                        fingerprint_extra={"metric": metric_name(self.metric_fn), "failure_score": self.failure_score,
                                           "add_format_failure_as_feedback": self.add_format_failure_as_feedback,
                                           "reflective_limits": [self.reflection_limits.max_records,
                                                                 self.reflection_limits.max_chars],
                                           "task_lms": inputs.task_lms(predictors)},
                        preflight=lambda: run_preflight(lms_to_check(predictors, self.reflection_lm), self.preflight,
                                                        self.lm_prices, self.require_prices),
                        backend=backend)
        callbacks = _options.as_list(self.gepa_kwargs.get("callbacks"))
        if callbacks:
            bus.subscribe(GepaCallbacks(callbacks, engine.state, engine.planner.view, trainset, len(valset),
                                        self.log_dir))
        result = engine.run()
        state = result.state
        best = state.best_idx()
        optimized = adapter.build_program(state.candidates[best])
        if self.track_stats:
            optimized.detailed_results = DspyGEPAResult.from_run(result, adapter.build_program, seed=seed,
                                                                 log_dir=self.log_dir,
                                                                 track_best_outputs=self.track_best_outputs)
        return optimized

    def _prepare(self, student: dspy.Module, trainset: Any, valset: Any, *, warn: bool
                 ) -> tuple[dspy.Module, list[tuple[str, Any]], list[dspy.Example], list[dspy.Example], int]:
        """Check the inputs (before anything is spent) and resolve the budget."""
        trainset = inputs.check_examples(trainset, "trainset")
        given_val_size = None
        if valset is None:
            if warn:
                logger.warning("No valset given: the trainset is used to validate candidates too. This suits "
                               "inference-time search; to optimize for unseen inputs, pass a separate valset.")
            valset = trainset
        else:
            valset = inputs.check_examples(valset, "valset")
            given_val_size = len(valset)
        program = inputs.copy_program(student)
        predictors = program.named_predictors()
        code_parts = list(flex_parts(program).items())
        if not predictors and not code_parts:
            raise ConfigurationError(f"{type(student).__name__} has no dspy.Predict modules (nor dspy.Flex parts), so "
                                     "GEPA has nothing to optimize.")
        inputs.check_lms(predictors + code_parts)
        budget = self.resolve_budget(len(predictors) + len(code_parts), len(trainset), given_val_size)
        logger.info("Running GEPA for up to %d metric calls (about %.2f full evaluations of train+val).",
                    budget, budget / (len(trainset) + (given_val_size or 0)))
        return program, predictors, trainset, valset, budget

    def plan(self, student: dspy.Module, trainset: list[dspy.Example], valset: list[dspy.Example] | None = None,
             *, probe: int = 0) -> BudgetPreview:
        """Preview what the budget allows — rollouts, proposals, validations — without running anything,
        and the cost once a price per rollout is known: from the journal in ``log_dir`` if one exists for
        this configuration, else from ``probe`` rollouts of the student on training examples (real LM
        calls, at the LMs' prices or ``lm_prices``). ``print(gepa.plan(...))`` gives a short summary."""
        program, predictors, trainset, valset, budget = self._prepare(student, trainset, valset, warn=False)
        screen = EngineConfig(val_policy=self.val_evaluation_policy).screen_size(len(valset))
        costs: dict[str, Any] = {}
        journal = read_journal(Path(self.log_dir) / JOURNAL) if self.log_dir is not None else None
        if journal is not None and journal.rollouts:
            rollout_usage = combine(r.usage for r in journal.rollouts.values())
            refl_usage = [r.get("usage") for r in journal.reflections.values()]
            per_rollout = known_cost(rollout_usage)
            per_refl = known_cost(combine(refl_usage))
            costs = {"cost_per_rollout": per_rollout / len(journal.rollouts) if per_rollout is not None else None,
                     "cost_per_reflection": per_refl / len(refl_usage) if per_refl is not None and refl_usage
                     else None, "cost_source": f"the journal in {self.log_dir}"}
        elif probe > 0:
            adapter = DspyAdapter(program, self.metric_fn, failure_score=self.failure_score,
                                  num_threads=self.num_threads, prices=self.lm_prices)
            batch = adapter.evaluate(trainset[:probe], _components(program))
            total = known_cost(combine(batch.usages or []))
            costs = {"cost_per_rollout": total / len(batch.scores) if total is not None else None,
                     "cost_source": f"{len(batch.scores)} probe rollouts"}
        return preview(budget, len(trainset), len(valset), self._minibatch_size, screen,
                       max_cost=self.max_cost, **costs)

    def _resolve_seed(self) -> int:
        if self.seed is not None:
            return self.seed
        if self.log_dir is not None:  # resuming a run that drew its own seed
            header = read_header(Path(self.log_dir) / JOURNAL)
            if header is not None and "seed" in header.get("fingerprint", {}):
                return int(header["fingerprint"]["seed"])
        seed = random.SystemRandom().randrange(2**31)
        logger.info("seed=None: drew seed %d for this run.", seed)
        return seed


class _BestProgramSaver:
    """Writes ``best_program.json`` (``program.save``) in ``log_dir`` whenever the best candidate changes."""

    events = (ev.BestChanged,)

    def __init__(self, adapter: DspyAdapter, log_dir: Path):
        self.adapter = adapter
        self.path = log_dir / BEST_PROGRAM

    def __call__(self, event: ev.Event) -> None:
        if not isinstance(event, ev.BestChanged):
            return
        write_atomically(self.path, lambda tmp: self.adapter.save_program(event.candidate, tmp))


def _components(program: dspy.Module) -> dict[str, str]:
    """What GEPA optimizes in ``program``: each predictor's instruction, and each ``dspy.Flex`` part's source."""
    return {**{name: p.signature.instructions for name, p in program.named_predictors()},
            **{path: part.module_src for path, part in flex_parts(program).items()}}


class StopFile:
    """Stops the search when ``path`` exists (``log_dir/gepa.stop``, as dspy.GEPA does)."""

    def __init__(self, path: Path):
        self.path = path
        self.__name__ = f"stop file {path}"

    def __call__(self, state: Any) -> bool:
        return self.path.exists()


#: get_params() keys trackers do not log (credentials, prices, arbitrary objects), and keys logged under another name.
_NOT_LOGGED = ("wandb_api_key", "wandb_init_kwargs", "gepa_kwargs", "lm_prices")
_LOGGED_NAMES = {"metric_fn": "metric", "custom_instruction_proposer": "instruction_proposer",
                 "custom_code_proposer": "code_proposer"}


def _name_of(value: Any) -> Any:
    """A keyword's value as a loggable scalar: strings as they are, objects by their name."""
    return value if value is None or isinstance(value, str) else metric_name(value)
