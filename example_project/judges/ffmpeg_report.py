"""The execution judge's answer: scores, an explanation a person can check, and structured ``details``.

``details`` (documented in docs/evals.md; other judges, e.g. a grounded LLM judge, read it as evidence)::

    {"verdict": {"score": "correct", "pass": false, "reason": "..."},
     "ffmpeg": {"path": "/usr/bin/ffmpeg", "version": "5.1.9-0+deb12u1"},
     "extraction": {"source": "fenced", "steps": 2, "notes": [...], "placeholders": {"input.mp4": "video.mov"}},
     "refused": ["shell operator '|' (a pipe)"],                 # only when nothing ran
     "inputs": {"name": "video.mov", "duration": 4, "facts": "mov,mp4,...: video h264 ..."},
     "commands": [{"argv": [...], "exit_code": 0, "killed": null, "first_error": null}],
     "outputs": [{"file": "out.mp4", "facts": "...", "probe": {...}, "decode_error": null,
                  "checks": [{"what": "size", "wanted": "1280x720", "got": "1280x720", "ok": true}]}],
     "checks": [{"what": "uses video.mov", ...}]}                  # checks not about one output
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

try:
    from . import ffmpeg_checks
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_checks  # type: ignore[no-redef]

_VERSIONS: dict[str, str] = {}


class JudgeError(RuntimeError):
    """The judge could not judge the answer (no ffmpeg, inputs not made, sandbox not set up)."""


def ffmpeg_version(ffmpeg: str) -> str:
    if ffmpeg not in _VERSIONS:
        try:
            out = subprocess.run(
                [ffmpeg, "-hide_banner", "-version"],
                capture_output=True,
                text=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        m = re.search(r"ffmpeg version (\S+)", out)
        _VERSIONS[ffmpeg] = m.group(1) if m else "unknown"
    return _VERSIONS[ffmpeg]


def _short(argv: list[str]) -> str:
    text = " ".join(a if re.fullmatch(r"[\w./:=%+,-]+", a) else repr(a) for a in argv)
    return text if len(text) <= 160 else text[:157] + "..."


class Report:
    """Collects the evidence while the judge works; ``finish`` turns it into the judge's answer."""

    def __init__(self, score: str) -> None:
        self.score = score
        self.details: dict = {"commands": [], "outputs": [], "checks": []}
        self.runs: list = []
        self.notes: list[str] = []
        self.failed: list[ffmpeg_checks.Check] = []
        self.passed: list[ffmpeg_checks.Check] = []

    # --- collecting
    def extraction(self, ex) -> None:
        self.details["extraction"] = {"source": ex.source, "steps": len(ex.steps), "notes": list(ex.notes)}

    def binary(self, ffmpeg: str) -> None:
        self.details["ffmpeg"] = {"path": ffmpeg, "version": ffmpeg_version(ffmpeg)}

    def placeholders(self, mapping: dict[str, str]) -> None:
        if mapping:
            self.details["extraction"]["placeholders"] = mapping

    def inputs(self, plan, probe) -> None:
        self.details["inputs"] = {
            "name": plan.main,
            "duration": plan.duration,
            "files": sorted(plan.files),
            "facts": probe.summary() if probe else None,
        }

    def command(self, ran) -> None:
        self.runs.append(ran)
        self.details["commands"].append(
            {
                "argv": ran.argv,
                "exit_code": ran.returncode,
                "killed": ran.killed,
                "first_error": ran.first_error(),
            }
        )

    def output(self, name: str, probe, decode_error: str | None) -> None:
        entry = {
            "file": name,
            "facts": probe.summary() if probe else "not readable media",
            "probe": probe.to_data() if probe else None,
            "decode_error": decode_error,
            "checks": [],
        }
        self.details["outputs"].append(entry)
        self.check(
            ffmpeg_checks.Check(
                "decodes to the end", "no error", decode_error or "no error", decode_error is None
            ),
            output=name,
        )

    def check(self, check, output: str | None = None) -> None:
        (self.passed if check.ok else self.failed).append(check)
        target = next(
            (o["checks"] for o in self.details["outputs"] if o["file"] == output), self.details["checks"]
        )
        target.append(check.to_data())

    # --- answering
    def _answer(self, correct: bool, runs: bool, safe: bool, reason: str, explanation: str) -> dict:
        self.details["verdict"] = {"score": self.score, "pass": correct, "reason": reason}
        return {
            "scores": {self.score: float(correct), "runs": float(runs), "safe": float(safe)},
            "explanation": explanation,
            "details": self.details,
        }

    def refused(self, problems: list[str]) -> dict:
        self.details["refused"] = problems
        reason = "refused, not run: " + "; ".join(problems[:6])
        return self._answer(False, False, False, reason, reason)

    def no_command(self) -> dict:
        reason = "no ffmpeg command in the answer (a refusal or prose): nothing to run"
        return self._answer(False, False, True, reason, reason)

    def error(self, message: str) -> dict:
        """The judge itself could not judge: no verdict (kilngit records an error result, never a score)."""
        raise JudgeError(message)

    def finish(self, runs: bool) -> dict:
        parts = []
        ffmpeg = self.details.get("ffmpeg", {})
        src = self.details.get("extraction", {})
        mapping = src.get("placeholders")
        head = (
            f"ffmpeg {ffmpeg.get('version', '?')}; {len(self.runs)} command(s) from {src.get('source')} text"
        )
        if mapping:
            head += "; placeholders " + ", ".join(f"{a} -> {b}" for a, b in mapping.items())
        parts.append(head)
        for k, (ran, entry) in enumerate(zip(self.runs, self.details["commands"], strict=False), start=1):
            status = f"killed ({ran.killed})" if ran.killed else f"exit {ran.returncode}"
            line = f"#{k} `{_short(ran.argv)}` {status}"
            if entry["first_error"] and (not ran.ok or "not been used" in entry["first_error"]):
                line += f": {entry['first_error']}"
            parts.append(line)
        for out in self.details["outputs"]:
            parts.append(f"{out['file']}: {out['facts']}")
        if not runs:
            reason = "does not run: " + (
                "; ".join(c.line() for c in self.failed)
                if self.failed
                else (self.details["commands"] or [{}])[-1].get("first_error") or "failed"
            )
            return self._answer(False, False, True, reason, "\n".join(parts + [reason]))
        for c in self.passed + self.failed:
            parts.append(c.line())
        if self.failed:
            reason = "runs, but " + "; ".join(c.line() for c in self.failed[:4])
        elif self.passed:
            reason = f"runs and all {len(self.passed)} check(s) pass"
        else:
            reason = "runs; nothing checkable in the request: correct = runs"
        parts.append("verdict: " + reason)
        return self._answer(not self.failed, True, True, reason, "\n".join(parts))
