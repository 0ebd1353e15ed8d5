"""Value types shared by several record kinds: ratings, provenance, usage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from kilngit.ratings import RATING_VALUES, RatingType
from kilngit.records.sharing import SharedFields

__all__ = ["RATING_VALUES", "Rating", "RatingType", "Source", "Strict", "Usage"]


def _inside_project(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith(("/", "~")) or ":" in parts[0] or ".." in parts or "\0" in path:
        raise ValueError(f"{path!r} is not a path inside the project (use a relative path without ..)")
    return path


ProjectPath = Annotated[str, AfterValidator(_inside_project)]
"""A path relative to the project root that cannot leave it (no absolute path, no `..`, no drive)."""


class Strict(BaseModel):
    """A nested value object: unknown fields are refused, like records."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # as `Record` (kilngit.records.base)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(self.__pydantic_fields_set__, SharedFields):
            raise TypeError(
                f"this {type(self).__name__} is shared by every loaded record holding an equal value "
                "(kilngit.records.sharing): assign a new one to the record instead, e.g. "
                "record.field = value.model_copy(update=...)"
            )
        super().__setattr__(name, value)


class Rating(Strict):
    """One rating: its type and value (pass 1.0, fail 0.0, critical -1.0, or 1..5 stars), or for `label`
    ratings the class (`label: billing`). Which classes a label may take is declared by the task."""

    type: RatingType
    value: float | None = None
    """The rating of numeric types; absent for label ratings."""
    label: str | None = None
    """The class of a label rating; absent for the other types."""

    @model_validator(mode="after")
    def _value_allowed(self) -> Rating:
        if self.type == "label":
            if not self.label or self.value is not None:
                raise ValueError("a label rating needs label (the class) and no value")
            return self
        if self.label is not None:
            raise ValueError(f"a {self.type} rating has a value, not a label")
        allowed = RATING_VALUES[self.type]
        if self.value is None or self.value not in allowed:
            shown = "none" if self.value is None else f"{self.value:g}"
            raise ValueError(f"value {shown} is not allowed for {self.type} (allowed: {_fmt(allowed)})")
        return self


def _fmt(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values)


class Source(Strict):
    """Who or what produced an input or an output."""

    type: Literal["human", "synthetic", "file_import"]
    """human: typed by a person; synthetic: made by a model; file_import: loaded from a file."""
    created_by: str | None = None
    """For human sources: the person (usually an email)."""
    provider: str | None = None
    """For synthetic sources: the provider name (e.g. openai, ollama, tinker)."""
    model: str | None = None
    """For synthetic sources: the model name as the provider knows it."""
    prompt: str | None = None
    """Slug of the prompt definition used."""
    run_config: str | None = None
    """Slug of the run config used."""
    run_config_hash: str | None = None
    """Content hash of the run config (and its prompt) at the time of the run, to tell edited configs apart."""
    topic: list[str] | None = None
    """For generated inputs: the topic path the input was generated under."""
    file: str | None = None
    """For file imports: the file name the record came from."""

    @model_validator(mode="after")
    def _fields_for_type(self) -> Source:
        if self.type == "human" and not self.created_by:
            raise ValueError("a human source needs created_by (who wrote it)")
        if self.type == "synthetic" and not self.model:
            raise ValueError("a synthetic source needs model (which model made it)")
        return self


class Usage(Strict):
    """Tokens, cost and latency of one model call (or the sum over the calls of one run)."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    """Cost in US dollars, when known."""
    latency_ms: float | None = Field(default=None, ge=0)
    """Wall-clock time of the model call(s) in milliseconds."""
