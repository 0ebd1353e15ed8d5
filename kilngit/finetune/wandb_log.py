"""Optional Weights & Biases logging of the loop's metrics (the `wandb` package, imported only when asked).

The files in the project stay the record; W&B gets a copy of the same numbers: per step `train/loss` and
`train/learning_rate`, per round `eval/score`, `eval/<score name>` and `round`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from kilngit.errors import UsageError
from kilngit.records import FineTuneRound, StepMetrics


class WandbLogger:
    """One W&B run for one fine-tune loop (resumed when the loop resumes)."""

    def __init__(self, run: Any) -> None:
        self.run = run

    @classmethod
    def start(cls, project: str, name: str, settings: Any) -> WandbLogger:
        """Start (or resume) the run `name` in W&B project `project`; needs `pip install wandb`."""
        try:
            import wandb  # type: ignore[import-not-found]
        except ImportError:
            raise UsageError(
                "--wandb needs the wandb package", "pip install wandb (or drop --wandb)"
            ) from None
        run_id = name.replace("/", "-")
        config = asdict(settings) if hasattr(settings, "__dataclass_fields__") else dict(settings)
        return cls(wandb.init(project=project, name=name, id=run_id, resume="allow", config=config))

    def step(self, metric: StepMetrics) -> None:
        data = {"train/loss": metric.loss, "train/learning_rate": metric.learning_rate}
        self.run.log({k: v for k, v in data.items() if v is not None}, step=metric.step)

    def round(self, rec: FineTuneRound) -> None:
        data: dict[str, Any] = {"round": rec.round, **{f"eval/{k}": v for k, v in rec.scores.items()}}
        if rec.score is not None:
            data["eval/score"] = rec.score
        self.run.log(data, step=rec.step)

    def finish(self) -> None:
        self.run.finish()
