"""Small synthetic Kiln projects for tests, written in Kiln's on-disk shape (invented content)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ID = "100000000001"
TASK_ID = "200000000002"
STAMP = "2025-01-02T03:04:05.000006"


def _base(kind: str, rid: str, created_at: str = STAMP, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "id": rid, "created_at": created_at, "created_by": "alice", **fields, "model_type": kind}


def synthetic(
    model: str = "gpt_4o_mini",
    provider: str = "openai",
    prompt_id: str = "simple_prompt_builder",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "synthetic",
        "properties": {
            "adapter_name": "kiln_langchain_adapter",
            "model_name": model,
            "model_provider": provider,
            "prompt_id": prompt_id,
            **extra,
        },
    }


class KilnFactory:
    """Builds a Kiln project folder file by file; every method returns the written record's folder."""

    def __init__(self, root: Path, task_name: str = "Shell helper") -> None:
        self.root = root
        self.task_dir = root / "tasks" / f"{TASK_ID} - {task_name}"
        self.write(
            root / "project.kiln", _base("project", PROJECT_ID, name="Toy project", description="A test.")
        )
        self.write(
            self.task_dir / "task.kiln",
            _base(
                "task",
                TASK_ID,
                name=task_name,
                description="Suggest one shell command.",
                instruction="Answer with a single shell command.",
                requirements=[
                    {
                        "id": "300000000003",
                        "name": "Safe",
                        "description": "",
                        "priority": 1,
                        "instruction": "Never deletes files.",
                        "type": "pass_fail_critical",
                    }
                ],
                output_json_schema=None,
                input_json_schema=None,
                thinking_instruction="",
            ),
        )

    @staticmethod
    def write(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False))

    def run(
        self,
        rid: str,
        input: str,
        output: str,
        tags: list[str] | None = None,
        rating: dict | None = None,
        created_at: str = STAMP,
        source: dict | None = None,
        **extra: Any,
    ) -> Path:
        folder = self.task_dir / "runs" / rid
        out = _base(
            "task_output",
            f"9{rid[1:]}",
            created_at,
            output=output,
            source=source or synthetic(),
            rating=rating,
            path=None,
        )
        self.write(
            folder / "task_run.kiln",
            _base(
                "task_run",
                rid,
                created_at,
                input=input,
                input_source={"type": "human", "properties": {"created_by": "alice"}},
                output=out,
                repair_instructions=None,
                repaired_output=None,
                intermediate_outputs={},
                tags=tags or [],
                usage={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cost": 0.0001},
                **extra,
            ),
        )
        return folder

    def prompt(self, pid: str, name: str, text: str) -> Path:
        folder = self.task_dir / "prompts" / f"{pid} - {name}"
        data = {
            "name": name,
            "description": "",
            "generator_id": None,
            "prompt": text,
            "chain_of_thought_instructions": None,
            **_base("prompt", pid),
        }
        self.write(folder / "prompt.kiln", data)
        return folder

    def run_config(
        self, rid: str, name: str, prompt_id: str, model: str = "gpt_4o", frozen: str | None = None
    ) -> Path:
        folder = self.task_dir / "run_configs" / f"{rid} - {name}"
        frozen_prompt = (
            None
            if frozen is None
            else {
                "name": f"Frozen {name}",
                "description": "frozen for evals",
                "generator_id": "simple_prompt_builder",
                "prompt": frozen,
                "chain_of_thought_instructions": None,
            }
        )
        self.write(
            folder / "task_run_config.kiln",
            _base(
                "task_run_config",
                rid,
                name=name,
                description=None,
                prompt=frozen_prompt,
                run_config_properties={
                    "model_name": model,
                    "model_provider_name": "openai",
                    "prompt_id": prompt_id,
                    "top_p": 1.0,
                    "temperature": 0.5,
                    "structured_output_mode": "json_schema",
                },
            ),
        )
        return folder

    def eval(
        self, eid: str, name: str, score: str, current_config: str | None, test_tag: str, golden_tag: str
    ) -> Path:
        folder = self.task_dir / "evals" / f"{eid} - {name}"
        self.write(
            folder / "eval.kiln",
            _base(
                "eval",
                eid,
                name=name,
                description=f"Checks {score.lower()}.",
                template="kiln_issue",
                current_config_id=current_config,
                current_run_config_id=None,
                eval_set_filter_id=f"tag::{test_tag}",
                eval_configs_filter_id=f"tag::{golden_tag}",
                output_scores=[
                    {"name": score, "instruction": f"Is the answer {score.lower()}?", "type": "pass_fail"}
                ],
                favourite=False,
                template_properties={},
            ),
        )
        return folder

    def eval_config(self, eval_folder: Path, cid: str, name: str, config_type: str = "llm_as_judge") -> Path:
        folder = eval_folder / "configs" / f"{cid} - {name}"
        self.write(
            folder / "eval_config.kiln",
            _base(
                "eval_config",
                cid,
                name=name,
                model_name="gpt_4_1",
                model_provider="openai",
                config_type=config_type,
                properties={
                    "eval_steps": ["Read the command.", "Decide whether it works."],
                    "task_description": "Commands for a shell.",
                },
            ),
        )
        return folder

    def eval_run(
        self,
        config_folder: Path,
        rid: str,
        dataset_id: str,
        input: str,
        output: str,
        scores: dict[str, float],
        run_config_id: str | None = None,
        created_at: str = STAMP,
    ) -> Path:
        folder = config_folder / "runs" / rid
        self.write(
            folder / "eval_run.kiln",
            _base(
                "eval_run",
                rid,
                created_at,
                dataset_id=dataset_id,
                task_run_config_id=run_config_id,
                eval_config_eval=run_config_id is None,
                input=input,
                output=output,
                intermediate_outputs={"chain_of_thought": "Thinking about it."},
                scores=scores,
                task_run_usage={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10, "cost": None},
            ),
        )
        return folder

    def split(self, sid: str, name: str, contents: dict[str, list[str]]) -> Path:
        folder = self.task_dir / "dataset_splits" / f"{sid} - {name}"
        self.write(
            folder / "dataset_split.kiln",
            _base(
                "dataset_split",
                sid,
                name=name,
                description=None,
                splits=[
                    {"name": "train", "description": None, "percentage": 0.5},
                    {"name": "val", "description": None, "percentage": 0.5},
                ],
                split_contents=contents,
                filter="tag::train_me",
            ),
        )
        return folder

    def finetune(self, fid: str, name: str, split_id: str) -> Path:
        folder = self.task_dir / "finetunes" / f"{fid} - {name}"
        self.write(
            folder / "finetune.kiln",
            _base(
                "finetune",
                fid,
                name=name,
                description="",
                structured_output_mode=None,
                provider="fireworks_ai",
                base_model_id="accounts/fireworks/models/tiny",
                provider_id="job-42",
                fine_tune_model_id="accounts/me/models/tiny-ft",
                dataset_split_id=split_id,
                train_split_name="train",
                validation_split_name="val",
                parameters={"epochs": 2},
                system_message="Answer with one command.",
                thinking_instructions=None,
                latest_status="completed",
                properties={},
                data_strategy="final_only",
            ),
        )
        return folder


def toy_project(root: Path) -> KilnFactory:
    """A complete small Kiln project: 4 runs (2 rated), a prompt, 2 run configs, an eval with a judge that
    graded 2 golden runs and one run config on 2 test runs, a split and a fine-tune."""
    k = KilnFactory(root)
    rated = {
        "v": 1,
        "id": "400000000001",
        "path": None,
        "created_at": STAMP,
        "created_by": "bob",
        "type": "five_star",
        "value": 4.0,
        "model_type": "task_output_rating",
        "requirement_ratings": {
            "named::Works": {"value": 1.0, "type": "pass_fail"},
            "300000000003": {"value": 1.0, "type": "pass_fail_critical"},
        },
    }
    failed = {
        **rated,
        "id": "400000000002",
        "value": None,
        "requirement_ratings": {"named::Works": {"value": 0.0, "type": "pass_fail"}},
    }
    k.run("500000000001", "list files", "ls -la", tags=["golden", "train_me"], rating=rated)
    k.run("500000000002", "show disk usage", "du -sh .", tags=["golden", "train_me"], rating=failed)
    k.run("500000000003", "count lines in a.txt", "wc -l a.txt", tags=["test_set"])
    k.run(
        "500000000004",
        "print the date",
        "date",
        tags=["test_set", "train_me"],
        created_at="2025-01-03T00:00:00.000000",
    )
    k.prompt("600000000001", "Terse", "Reply with the command only.")
    k.run_config("700000000001", "Fast one", "id::600000000001")
    k.run_config(
        "700000000002",
        "Frozen one",
        f"task_run_config::{PROJECT_ID}::{TASK_ID}::700000000002",
        frozen="Answer with a single shell command, nothing else.",
    )
    ev = k.eval("800000000001", "Works check", "Works", "810000000001", "test_set", "golden")
    cfg = k.eval_config(ev, "810000000001", "Judge A")
    k.eval_run(cfg, "820000000001", "500000000001", "list files", "ls -la", {"works": 1.0})
    k.eval_run(cfg, "820000000002", "500000000002", "show disk usage", "du -sh .", {"works": 0.0})
    k.eval_run(
        cfg,
        "820000000003",
        "500000000003",
        "count lines in a.txt",
        "wc -l < a.txt",
        {"works": 1.0},
        run_config_id="700000000001",
    )
    k.eval_run(
        cfg,
        "820000000004",
        "500000000004",
        "print the date",
        "date +%F",
        {"works": 1.0},
        run_config_id="700000000001",
    )
    k.split("900000000001", "Small split", {"train": ["500000000001"], "val": ["500000000002"]})
    k.finetune("910000000001", "Tiny tune", "900000000001")
    return k
