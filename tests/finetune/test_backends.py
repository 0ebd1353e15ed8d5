"""The fine-tune backend registry: every spec goes to its own backend, unknown ones are refused with the
fix (never handed to another backend), and a new backend is one registration."""

from __future__ import annotations

from typing import Any

import pytest

from kilngit import layout
from kilngit.errors import UsageError
from kilngit.finetune.backends import _BACKENDS, BUILTIN, backend_names, finetune_backend, get_backend
from kilngit.finetune.dispatch import cancel_finetune, refresh_finetune, start_finetune
from kilngit.finetune.jobs import create_finetune, read_status, write_status
from kilngit.project import Project
from kilngit.records import FineTune
from tests.finetune.helpers import TASK, split_and_finetune


def test_builtin_backends():
    assert backend_names() == ["fireworks", "openai", "tinker", "together"] == sorted(BUILTIN)
    for name in BUILTIN:
        assert get_backend(name).name == name


def _write_spec(project: Project, provider: str, params: dict[str, Any] | None = None) -> None:
    split_and_finetune(project, "openai")
    spec = project.finetunes(TASK)["ft"].model_copy(update={"provider": provider, "params": params or {}})
    project.write_definition(layout.finetune_file(TASK, "ft"), spec)


def test_unknown_backend_is_refused_never_mapped(project: Project):
    _write_spec(project, "vertex")
    with pytest.raises(UsageError, match="no fine-tune backend 'vertex'") as e:
        start_finetune(Project(project.root), TASK, "ft")
    assert "openai, tinker, together" in (e.value.hint or "").replace("fireworks, ", "")
    assert read_status(project, TASK, "ft").state == "pending"  # nothing trained anywhere
    with pytest.raises(UsageError):
        create_finetune(project, TASK, "other", provider="vertex", base_model="m", split="s")


def test_kiln_provider_names_read_as_backends(project: Project):
    """Specs written by older Kiln imports say fireworks_ai: that is Fireworks, never Tinker."""
    _write_spec(project, "fireworks")
    path = project.root / layout.finetune_file(TASK, "ft")
    path.write_text(path.read_text().replace("provider: fireworks", "provider: fireworks_ai"))
    assert Project(project.root).finetunes(TASK)["ft"].provider == "fireworks"


def test_params_the_backend_does_not_take_are_refused_with_the_file(project: Project):
    _write_spec(project, "openai", {"lora_rank": 16})
    with pytest.raises(UsageError, match=r"finetune.yaml: unknown openai parameter\(s\) lora_rank"):
        start_finetune(Project(project.root), TASK, "ft")


def test_a_new_backend_is_one_registration(project: Project):
    class Echo:
        name, params = "echo", {"speed": int}

        def start(self, project, task, name, spec, options):
            return write_status(
                project, read_status(project, task, name), state="running", provider_job_id="e1"
            )

        def refresh(self, project, task, name, spec, client=None):
            return write_status(project, read_status(project, task, name), state="succeeded")

        def cancel(self, project, task, name, spec, client=None):
            return write_status(project, read_status(project, task, name), state="cancelled")

    finetune_backend(Echo())
    try:
        split_and_finetune(project, "echo", params={"speed": 3})
        assert isinstance(project.finetunes(TASK)["ft"], FineTune)
        assert start_finetune(project, TASK, "ft").state == "running"
        assert refresh_finetune(project, TASK, "ft").state == "succeeded"
    finally:
        _BACKENDS.pop("echo")
    with pytest.raises(UsageError):
        cancel_finetune(project, TASK, "ft")
