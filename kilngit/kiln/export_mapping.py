"""kilngit values -> Kiln values: sources, usage, ratings, run filters, structured output, fine-tune fields.

The inverse of `kilngit.kiln.mapping` where one exists; where kilngit has more than Kiln (several raters, rich
run filters), the rule used is documented in docs/kiln.md.
"""

from __future__ import annotations

import math
import re
from typing import Any

from kilngit.kiln.mapping import DATA_STRATEGY, FINETUNE_BACKENDS, PROMPT_BUILDERS
from kilngit.records import Source, Usage
from kilngit.state import Consensus

STRUCTURED_OUTPUT = {
    "auto": "default",
    "none": "default",
    "json_schema": "json_schema",
    "json_mode": "json_mode",
    "json_instructions": "json_instructions",
}
TRAIN_ON = {v: k for k, v in reversed(DATA_STRATEGY.items())} | {"repaired_output": "final_only"}
FINETUNE_STATE = {
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
    "running": "running",
    "uploading": "running",
    "pending": "pending",
    "queued": "pending",
}
#: kilngit fine-tune backend -> (Kiln provider, backend parameter name -> Kiln's).
FINETUNE_PROVIDERS = {
    backend: (kiln, {v: k for k, v in names.items()}) for kiln, (backend, names) in FINETUNE_BACKENDS.items()
}
BUILDERS = set(PROMPT_BUILDERS) - {"short_prompt_builder"}
"""The prompt builders kiln-ai 1.2.0 accepts as prompt IDs."""

#: Kiln fine-tune identity: (provider, fine-tuned model) -> `kiln_fine_tune` model name.
FineTuneModels = dict[tuple[str, str], str]


def model_ref(provider: str | None, model: str, finetunes: FineTuneModels) -> tuple[str, str]:
    """(model_provider, model_name) for Kiln: fine-tuned models go back to Kiln's `kiln_fine_tune` names."""
    ft = finetunes.get((provider or "", model))
    return ("kiln_fine_tune", ft) if ft else (provider or "unknown", model)


def source(src: Source, finetunes: FineTuneModels, prompt_id: str | None = None) -> dict[str, Any]:
    """A kilngit Source as a Kiln DataSource (Kiln refuses empty property values, so they are left out)."""
    if src.type == "human":
        return {"type": "human", "properties": {"created_by": src.created_by or "kilngit"}}
    if src.type == "file_import":
        return {"type": "file_import", "properties": {"file_name": src.file or "unknown"}}
    provider, model = model_ref(src.provider, src.model or "unknown", finetunes)
    props: dict[str, Any] = {"adapter_name": "kilngit", "model_name": model, "model_provider": provider}
    if prompt_id:
        props["prompt_id"] = prompt_id
    if src.topic:
        props["topic_path"] = " > ".join(src.topic)
    return {"type": "synthetic", "properties": props}


def usage(u: Usage | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "cost": u.cost,
    }


def rating_value(c: Consensus | None) -> float | None:
    """A consensus as one Kiln rating value: None when disputed without a value; five-star medians between
    two stars are rounded down (Kiln ratings are whole stars)."""
    if c is None or c.value is None:
        return None
    return float(math.floor(c.value)) if c.type == "five_star" else c.value


def kiln_filter(text: str) -> str | None:
    """A kilngit run filter as a Kiln dataset filter ID, or None when Kiln has no equivalent."""
    terms = [t.strip() for t in text.split("&")]
    mapped = []
    for term in terms:
        if term == "all":
            mapped.append("all")
        elif term == "human_rating>=4*":
            mapped.append("high_rating")
        elif re.fullmatch(r"tag::[^\s()&,|!]+", term):
            mapped.append(term)
        else:
            return None
    return mapped[0] if len(mapped) == 1 else "multi_filter::" + "&".join(mapped)


def tag(text: str) -> str:
    """A tag Kiln accepts (no whitespace)."""
    return re.sub(r"\s+", "_", text.strip()) or "_"
