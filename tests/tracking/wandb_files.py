"""Reading an offline W&B run from disk: its files and the records in its ``run-<id>.wandb`` log.

The ``.wandb`` file is a LevelDB-style log (7-byte header ``:W&B`` + magic + version, then 32 KiB
blocks of records with a 7-byte header: CRC, length, type full/first/middle/last) whose payloads
are ``wandb_internal_pb2.Record`` messages. wandb no longer ships a Python reader, so the tests
carry this small one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024


def read_records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B log"
    pos, chunks, pending = 7, [], b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        payload = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            chunks.append(payload)
        elif kind == 2:
            pending = payload
        elif kind == 3:
            pending += payload
        elif kind == 4:
            chunks.append(pending + payload)
            pending = b""
        else:
            break
    records = []
    for chunk in chunks:
        record = pb.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


@dataclass
class OfflineRun:
    dir: Path
    id: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: list[Any] = field(default_factory=list)
    artifacts: list[Any] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def files(self) -> Path:
        return self.dir / "files"

    def column(self, key: str) -> list[Any]:
        return [row[key] for row in self.history if key in row]

    def table_rows(self, key: str) -> list[list[Any]]:
        """All rows logged under a table key (incremental tables are split over several files)."""
        rows = []
        for path in sorted(self.files.glob(f"media/table/{key}_*.table.json")):
            rows.extend(json.loads(path.read_text())["data"])
        return rows


def load(run_dir: Path) -> OfflineRun:
    (log,) = run_dir.glob("run-*.wandb")
    run = OfflineRun(run_dir)
    for record in read_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.id = record.run.run_id
            for item in record.run.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            run.history.append({_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "metric":
            run.metrics.append(record.metric)
        elif kind == "artifact":
            run.artifacts.append(record.artifact)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def offline_runs(wandb_dir: Path, *, timeout: float = 20.0) -> list[OfflineRun]:
    """The offline runs under ``wandb_dir``, each read once its exit record is on disk (wandb's service
    process writes the log asynchronously, so a run finished a moment ago may not be complete yet)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        runs = [load(d) for d in sorted((wandb_dir / "wandb").glob("offline-run-*"))]
        if all(run.exit_code is not None for run in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.1)
