"""The GEPA paper's four tasks (arXiv 2507.19457), ready to run with real models: ``tasks/`` (programs, metrics,
feedback, data loaders), ``retrieval.py`` (BM25), ``offline_lms.py`` (scripted LMs for smoke runs), ``run.py``
(the runner behind ``python -m benchmarks.run``) and ``data/`` (the offline subsets)."""
