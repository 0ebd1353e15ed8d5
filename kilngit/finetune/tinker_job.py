"""Tinker fine-tuning: a LoRA training client driven step by step from this process.

    trainer = TinkerTrainer(project, "ffmpeg", "qwen-ft", spec, tokenizer=ByteTokenizer())
    trainer.train_to(30, learning_rate=1e-4)      # forward_backward + optim_step per step, loss written per step
    trainer.publish("final")                      # sampler weights + a run config `ft-qwen-ft`

Each step's loss goes to the metrics files as soon as the step is done; every `checkpoint_every` steps (and
at the end) the training state is saved with `save_state` and its path and step written to `status.json`.
After a crash the next run continues from that checkpoint with
`create_training_client_from_state_with_optimizer` (weights and Adam state), dropping the metrics of the
steps it redoes. Batches are a deterministic function of the step number, so a resumed job sees the same
data it would have seen.

The sampler checkpoint becomes a run config with provider `tinker`, whose model is the `tinker://` sampler
path: `kilngit run task` samples it through Tinker's OpenAI-compatible endpoint (`<base>/oai/api/v1`).
The connection: `$TINKER_BASE_URL` (else the `tinker` provider's base URL without `/oai/api/v1`) and the key
in `$TINKER_API_KEY`, which is never written anywhere.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.examples import finetune_examples
from kilngit.finetune.export import Tokenizer
from kilngit.finetune.jobs import model_run_config, read_status, renderer_for, run_config_slug, write_status
from kilngit.finetune.metrics import MetricsWriter
from kilngit.project import Project
from kilngit.providers.config import provider_settings
from kilngit.providers.secrets import redact
from kilngit.records import FineTune, FineTuneStatus, StepMetrics

DEFAULT_LR = 1e-4
DEFAULT_BATCH = 8
DEFAULT_RANK = 32
DEFAULT_CHECKPOINT_EVERY = 10
OPENAI_SUFFIX = "/oai/api/v1"


def service_url() -> str:
    """The Tinker service URL: $TINKER_BASE_URL, else the `tinker` provider's URL minus its OpenAI route."""
    explicit = os.environ.get("TINKER_BASE_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    base = provider_settings("tinker").base_url or ""
    return base.removesuffix("/").removesuffix(OPENAI_SUFFIX)


def service_client() -> Any:
    """A `tinker.ServiceClient` for the configured service, keyed from $TINKER_API_KEY."""
    import tinker  # optional: kilngit[tinker]

    key = os.environ.get("TINKER_API_KEY", "").strip()
    if not key:
        raise ProviderError(
            "fine-tuning with Tinker needs an API key in $TINKER_API_KEY, which is not set",
            "export TINKER_API_KEY=... (kilngit never stores keys)",
        )
    return tinker.ServiceClient(base_url=service_url(), api_key=key)


def _fail(e: Exception, what: str) -> ProviderError:
    text = redact(f"{type(e).__name__}: {e}", [os.environ.get("TINKER_API_KEY")])
    return ProviderError(f"{what}: {text}", "re-run to resume from the last checkpoint (see status.json)")


class TinkerTrainer:
    """Trains one fine-tune with Tinker, resuming from its last checkpoint. Not thread-safe."""

    def __init__(
        self,
        project: Project,
        task: str,
        name: str,
        spec: FineTune,
        *,
        service: Any = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.project, self.task, self.name, self.spec = project, task, name, spec
        built = finetune_examples(project, task, spec)
        if not built.examples:
            raise UsageError(
                f"the {spec.train_part!r} part of split {spec.split!r} has no usable examples",
                f"skipped runs: {dict(built.skipped) or 'none'}; add runs or change the split",
            )
        renderer = renderer_for(spec, tokenizer)
        self.datums = [renderer.datum(e.messages) for e in built.examples]
        self.weights = [sum(d.loss_fn_inputs["weights"].data) for d in self.datums]
        self.batch_size = min(int(spec.params.get("batch_size", DEFAULT_BATCH)), len(self.datums))
        self.seed = int(spec.params.get("seed", 0))
        self.metrics = MetricsWriter(project, task, name)
        self._service = service
        self._client: Any = None
        self.status = read_status(project, task, name)

    @property
    def step(self) -> int:
        """Steps trained and saved (the in-process client may be ahead of the last checkpoint)."""
        return self._step if self._client is not None else (self.status.step or 0)

    def default_steps(self) -> int:
        """`steps` param, else `epochs` (default 1) passes over the training examples."""
        if "steps" in self.spec.params:
            return int(self.spec.params["steps"])
        return int(self.spec.params.get("epochs", 1)) * math.ceil(len(self.datums) / self.batch_size)

    def batch(self, step: int) -> list[int]:
        """Indexes of the examples trained on at `step` (0-based): epochs of seeded shuffles, back to back."""
        n, out = len(self.datums), []
        for k in range(step * self.batch_size, (step + 1) * self.batch_size):
            order = list(range(n))
            random.Random(f"{self.seed}:{k // n}").shuffle(order)
            out.append(order[k % n])
        return out

    def client(self) -> Any:
        """The training client: resumed from the last checkpoint when there is one, else a new LoRA."""
        if self._client is not None:
            return self._client
        service = self._service = self._service or service_client()
        try:
            if self.status.checkpoint:
                future = service.create_training_client_from_state_with_optimizer(self.status.checkpoint)
            else:
                rank = int(self.spec.params.get("lora_rank", DEFAULT_RANK))
                future = service.create_lora_training_client(
                    base_model=self.spec.base_model, rank=rank, seed=self.spec.params.get("seed")
                )
            self._client = future.result()
        except Exception as e:
            raise _fail(e, f"starting Tinker training for {self.name!r}") from e
        self._step = self.status.step or 0
        self.metrics.drop_after(self._step)
        self.status = write_status(
            self.project, self.status, provider_job_id=self._client.model_id, state="running", error=None
        )
        return self._client

    def train_to(
        self,
        target_step: int,
        learning_rate: float,
        *,
        round_number: int | None = None,
        checkpoint_every: int | None = None,
        on_step: Any = None,
    ) -> list[StepMetrics]:
        """Train until `target_step` steps are done, saving a checkpoint every `checkpoint_every` steps and at
        the end. Returns the metrics of the steps taken now. `on_step(metric)` is called after each."""
        from tinker import types  # optional: kilngit[tinker]

        every = checkpoint_every or int(self.spec.params.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY))
        taken: list[StepMetrics] = []
        if self.step >= target_step:
            return taken
        tc = self.client()
        try:
            while self._step < target_step and not self.cancelled():
                idx = self.batch(self._step)
                fb = tc.forward_backward([self.datums[i] for i in idx], loss_fn="cross_entropy")
                opt = tc.optim_step(types.AdamParams(learning_rate=learning_rate))
                out = fb.result()
                opt.result()
                self._step += 1
                tokens = sum(self.weights[i] for i in idx)
                metric = StepMetrics(
                    step=self._step,
                    loss=out.metrics["loss:sum"] / max(tokens, 1.0),
                    learning_rate=learning_rate,
                    round=round_number,
                    tokens=tokens,
                )
                self.metrics.write(metric)
                taken.append(metric)
                if on_step is not None:
                    on_step(metric)
                if self._step % every == 0 or self._step == target_step:
                    self.save_state()
            if self._step < target_step:  # cancelled: keep what was trained
                self.save_state()
        except ProviderError:
            raise
        except Exception as e:
            self.status = write_status(
                self.project, self.status, state="failed", error=f"step {self._step + 1}: {type(e).__name__}"
            )
            raise _fail(e, f"Tinker training of {self.name!r} at step {self._step + 1}") from e
        return taken

    def cancelled(self) -> bool:
        """True once `kilngit finetune cancel` marked the job cancelled (checked before every step)."""
        current = self.project.finetune_status(self.task, self.name)
        if current is not None and current.state == "cancelled":
            self.status = current
            return True
        return False

    def save_state(self) -> str:
        """Save weights and optimizer state; record the path and step (what a crash resumes from)."""
        if self.status.step == self.step and self.status.checkpoint:
            return self.status.checkpoint
        try:
            path = self.client().save_state(f"step-{self._step:06d}").result().path
        except Exception as e:
            raise _fail(e, f"saving the Tinker training state of {self.name!r}") from e
        self.status = write_status(self.project, self.status, step=self._step, checkpoint=path)
        return path

    def save_sampler(self, label: str) -> str:
        """Save sampler weights named `label` and record their `tinker://` path."""
        try:
            path = self.client().save_weights_for_sampler(label).result().path
        except Exception as e:
            raise _fail(e, f"saving Tinker sampler weights of {self.name!r}") from e
        self.status = write_status(self.project, self.status, sampler_checkpoint=path)
        return path

    def run_config(self, sampler_path: str, slug: str, description: str) -> str:
        """Write a run config sampling `sampler_path` through Tinker's OpenAI-compatible endpoint."""
        return model_run_config(self.project, self.task, slug, self.spec, "tinker", sampler_path, description)

    def publish(self, label: str = "final") -> FineTuneStatus:
        """Save sampler weights, add the run config of the fine-tuned model, mark the job succeeded."""
        path = self.save_sampler(f"{label}-step-{self._step:06d}")
        slug = self.run_config(
            path,
            self.status.run_config or run_config_slug(self.name),
            f"Fine-tuned by kilngit fine-tune {self.name!r} ({self._step} Tinker steps).",
        )
        self.status = write_status(
            self.project, self.status, state="succeeded", fine_tuned_model=path, run_config=slug
        )
        return self.status

    def close(self) -> None:
        """End the Tinker session (best effort: the service ends idle sessions anyway)."""
        if self._service is not None:
            with contextlib.suppress(Exception):
                self._service.close("success").result(timeout=10)


def train_tinker(
    project: Project,
    task: str,
    name: str,
    spec: FineTune,
    *,
    service: Any = None,
    tokenizer: Tokenizer | None = None,
) -> FineTuneStatus:
    """`finetune start` for Tinker: train all steps (resuming), then publish the sampler checkpoint."""
    status = read_status(project, task, name)
    if status.state in ("succeeded", "cancelled"):
        return status
    trainer = TinkerTrainer(project, task, name, spec, service=service, tokenizer=tokenizer)
    try:
        trainer.train_to(trainer.default_steps(), float(spec.params.get("learning_rate", DEFAULT_LR)))
        if trainer.cancelled():
            return trainer.status
        trainer.client()  # after a crash right after the last checkpoint, the sampler still needs a client
        return trainer.publish()
    finally:
        if service is None:
            trainer.close()
