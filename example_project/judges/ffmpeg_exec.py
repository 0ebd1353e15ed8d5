"""Execution judge for the "natural language -> ffmpeg command" task: run the answer, check what came out.

Contract (kilngit code judge)::

    judge(task: dict, input: str, output: str) -> {"scores": {...}, "explanation": str, "details": {...}}

1. The steps are taken from the answer (``ffmpeg_extract``: fenced blocks, prompts, continuations,
   comments, several commands in order). Placeholder input names the user never gave (``input.mp4`` when
   the request names ``video.mov``) are mapped to the user's file (same kind of media).
2. Every step passes the policy (``ffmpeg_policy``) or nothing runs: the answer scores 0 everywhere and the
   reasons are the explanation.
3. Inputs are made up to match the request (``ffmpeg_inputs``, ``ffmpeg_streams``), and the steps run in
   order as argv (no shell, stdin closed) in one fresh folder under the temp dir (``ffmpeg_workspace``),
   stopping at the first failure. When the judge itself cannot judge (no ffmpeg, inputs not made, sandbox not
   set up) it raises ``ffmpeg_report.JudgeError``: kilngit records an error result, never a score.
4. Every final output is probed and fully decoded (``ffmpeg_probe``); the main one is checked against the
   request (``ffmpeg_request``, ``ffmpeg_checks``), and names the request uses that ffmpeg lacks must be
   called out by the answer (``ffmpeg_names``).

Scores, each 1.0 or 0.0: ``safe`` (nothing refused), ``runs`` (every step exited 0 and wrote its outputs),
and the verdict, named ``correct``, or ``correctness`` when the task has a requirement of that name (as a
Kiln import has): it runs, every output decodes and every check passed. ``details`` (see docs/evals.md)
holds the evidence: each command's argv, exit code and first error line, each output's probed facts and
checks, and the verdict's reason.
"""

from __future__ import annotations

import os
import re
import sys

try:
    from . import (
        ffmpeg_argv,
        ffmpeg_checks,
        ffmpeg_extract,
        ffmpeg_inputs,
        ffmpeg_names,
        ffmpeg_policy,
        ffmpeg_probe,
        ffmpeg_report,
        ffmpeg_request,
        ffmpeg_sandbox,
        ffmpeg_workspace,
    )
except ImportError:  # loaded as a plain file rather than as judges.ffmpeg_exec
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_argv  # type: ignore[no-redef]
    import ffmpeg_checks  # type: ignore[no-redef]
    import ffmpeg_extract  # type: ignore[no-redef]
    import ffmpeg_inputs  # type: ignore[no-redef]
    import ffmpeg_names  # type: ignore[no-redef]
    import ffmpeg_policy  # type: ignore[no-redef]
    import ffmpeg_probe  # type: ignore[no-redef]
    import ffmpeg_report  # type: ignore[no-redef]
    import ffmpeg_request  # type: ignore[no-redef]
    import ffmpeg_sandbox  # type: ignore[no-redef]
    import ffmpeg_workspace  # type: ignore[no-redef]

# re-exported for callers of the old single-module judge
Expectations = ffmpeg_request.Expectations
expectations = ffmpeg_request.expectations
expectations_from_request = ffmpeg_request.expectations_from_request

# Limits for every judged command (tests lower the timeout to keep the suite fast).
LIMITS = ffmpeg_sandbox.Limits()
MAX_OUTPUTS = 6

_INPUT_INFO: dict[str, object] = {}
_KINDS = {
    **{e: "video" for e in ffmpeg_request.VIDEO_EXTS},
    **{e: "audio" for e in ffmpeg_request.AUDIO_EXTS},
    **{e: "image" for e in ffmpeg_request.IMAGE_EXTS},
}


def score_name(task: dict) -> str:
    """``correctness`` when the task has a requirement of that name (Kiln's correctness evals), else ``correct``."""
    names = {r.get("name") for r in (task or {}).get("requirements") or [] if isinstance(r, dict)}
    return "correctness" if "correctness" in names and "correct" not in names else "correct"


def map_placeholders(steps: list[list[str]], exp) -> tuple[list[list[str]], dict[str, str]]:
    """Replace input names the user never gave with the user's files of the same kind, in order."""
    written = {o.name for argv in steps for o in ffmpeg_argv.analyze_command(argv).outputs}
    made, read = set(), []
    for argv in steps:
        info = ffmpeg_argv.analyze_command(argv)
        read += [i.name for i in info.inputs if i.name not in made and i.options.get("f") != "lavfi"]
        made |= {o.name for o in info.outputs}
    free = [n for n in exp.mentioned if n not in read and n not in written and n not in exp.output]
    mapping: dict[str, str] = {}
    for name in dict.fromkeys(read):
        if name in exp.mentioned or "%" in name or "*" in name or name.startswith("concat:"):
            continue
        kind = _KINDS.get(ffmpeg_checks.ext_of(name))
        match = next((f for f in free if kind and _KINDS.get(ffmpeg_checks.ext_of(f)) == kind), None)
        if match:
            mapping[name] = match
            free.remove(match)
    if not mapping:
        return steps, mapping
    out = []
    for argv in steps:
        new = list(argv)
        for i in range(1, len(new) - 1):
            if new[i] == "-i" and new[i + 1] in mapping:
                new[i + 1] = mapping[new[i + 1]]
        out.append(new)
    return out, mapping


def _input_info(path: str, ffmpeg: str):
    """Probe of one of our own cached synthetic inputs (trusted: no isolation needed)."""
    if path not in _INPUT_INFO:
        _INPUT_INFO[path] = ffmpeg_probe.probe_file(path, ffmpeg, isolation="none")
    return _INPUT_INFO[path]


def _final_outputs(infos, produced: dict[str, int], exp) -> list[str]:
    """Produced files the last steps leave (not read again by a later step), the requested one first."""
    later_inputs = [{i.name for info in infos[k + 1 :] for i in info.inputs} for k in range(len(infos))]
    declared = [
        o.name
        for k, info in enumerate(infos)
        for o in info.outputs
        if o.name != "-" and o.name not in later_inputs[k]
    ]
    inputs = {i.name for info in infos for i in info.inputs}
    wanted = [n for n in exp.output if n not in inputs]
    order = [m for n in wanted[-1:] for m in ffmpeg_checks.matches(n, produced)[:1]]
    order += [
        m
        for n in declared
        if exp.ext and ffmpeg_checks.ext_of(n) == exp.ext
        for m in ffmpeg_checks.matches(n, produced)[:1]
    ]
    order += [m for n in declared for m in ffmpeg_checks.matches(n, produced)[:1]]
    return [f for f in dict.fromkeys(order) if produced.get(f, 0) > 0]


def plan_steps(answer: str) -> tuple[ffmpeg_extract.Extraction, list[list[str]], list[str]]:
    """``(extraction, argv of each step to run, policy problems)`` of an answer; nothing runs."""
    ex = ffmpeg_extract.extract(answer)
    problems = list(ex.problems)
    steps: list[list[str]] = []
    for step in ex.steps:
        if step.program in ffmpeg_policy.LOOKING_PROGRAMS:
            ex.notes.append(f"skipped {step.program} (it only looks at files)")
            continue
        argv = step.argv
        if step.program == "ffmpeg":
            argv, nulled = ffmpeg_policy.null_outputs(argv)
            if nulled:
                ex.notes.append("/dev/null output run as '-f null -'")
            problems += ffmpeg_policy.check_command(argv)
        else:
            problems += ffmpeg_policy.program_problems(argv)
        steps.append(argv)
    return ex, steps, list(dict.fromkeys(problems))


def judge(task: dict, input: str, output: str) -> dict:
    """Score one answer by running its ffmpeg command(s) on inputs made for the request."""
    task = task if isinstance(task, dict) else {}
    report = ffmpeg_report.Report(score_name(task))
    ex, steps, problems = plan_steps(output)
    report.extraction(ex)
    if problems == [ffmpeg_extract.NO_COMMAND]:
        return report.no_command()
    if problems:
        return report.refused(problems)

    exp = ffmpeg_request.expectations(task, input or "")
    ffmpeg = ffmpeg_sandbox.find_ffmpeg()
    if not ffmpeg:
        return report.error("cannot execute: no ffmpeg binary (KILNGIT_FFMPEG, PATH or imageio-ffmpeg)")
    report.binary(ffmpeg)
    steps, mapping = map_placeholders(steps, exp)
    report.placeholders(mapping)
    infos = [ffmpeg_argv.analyze_command(a) for a in steps if a[0] == "ffmpeg"]
    needed = max(
        [ffmpeg_argv.time_span_needed(i) for i in infos] + [exp.latest_time, (exp.cuts_around or -8) + 8]
    )
    duration = ffmpeg_inputs.duration_bucket(needed)
    size = (exp.source_height * 16 // 9 // 2 * 2, exp.source_height) if exp.source_height else None
    cache = ffmpeg_inputs.InputCache(ffmpeg)
    try:
        plan = ffmpeg_inputs.plan_inputs(infos, cache, duration, tuple(exp.streams.layout), size)
    except (RuntimeError, OSError) as exc:
        return report.error(f"cannot make the inputs: {exc}")
    input_probe = _input_info(plan.files[plan.main], ffmpeg) if plan.main in plan.files else None
    report.inputs(plan, input_probe)

    with ffmpeg_workspace.Workspace(plan.files, ffmpeg, LIMITS) as ws:
        runs = True
        for argv in steps:
            if argv[0] == "mkdir":
                for folder in argv[1:]:
                    if not folder.startswith("-"):
                        ws.mkdir(folder)
                continue
            info = ffmpeg_argv.analyze_command(argv)
            for o in info.outputs:  # ffmpeg makes no folders: only one the request names is taken to exist
                folder = os.path.dirname(o.name)
                if folder and re.search(
                    r"(?<![\w.-])" + re.escape(folder.split("/")[0]) + r"(?![\w.-])", input or ""
                ):
                    ws.mkdir(folder)
            ran = ws.run(
                argv,
                [i.index for i in info.inputs],
                {i.index for i in info.inputs if i.name.startswith("concat:")},
            )
            if ran.error:
                return report.error(ran.error)
            report.command(ran)
            if not ran.ok:
                runs = False
                break
        produced = ws.produced()
        missing = [
            o.name
            for info in infos
            for o in info.outputs
            if o.name != "-" and not [m for m in ffmpeg_checks.matches(o.name, produced) if produced[m] > 0]
        ]
        if runs and missing:
            runs = False
            report.check(
                ffmpeg_checks.Check("outputs written", "every output", f"missing {', '.join(missing)}", False)
            )
        finals = _final_outputs(infos, produced, exp)[:MAX_OUTPUTS] if runs else []
        probes = {}
        for name in finals:
            probes[name] = ffmpeg_probe.probe_file(ws.path(name), ffmpeg, ws.mode)
            probe = probes[name]
            playable = probe and (probe.of_type("video") or probe.of_type("audio"))
            error = ffmpeg_probe.decode(ws.path(name), ffmpeg, ws.mode) if playable else None
            if not probe:
                error = "not readable media"
            report.output(name, probes[name], error)
    if not runs:
        return report.finish(runs=False)

    argv_text = " ".join(" ".join(a) for a in steps)
    for name in exp.mentioned:
        if name not in exp.output:
            report.check(
                ffmpeg_checks.Check(
                    f"uses {name}", "named in a command", name in argv_text, name in argv_text
                )
            )
    wanted = [n for n in exp.output if n not in {i.name for info in infos for i in info.inputs}]
    if wanted:
        ok = bool(ffmpeg_checks.matches(wanted[-1], produced))
        report.check(ffmpeg_checks.Check(f"writes {wanted[-1]}", wanted[-1], sorted(produced)[:4], ok))
    if exp.ext:
        exts = sorted({ffmpeg_checks.ext_of(f) for f in finals})
        report.check(ffmpeg_checks.Check("output container", exp.ext, exts, exp.ext in exts))
    ignored = sorted({o for r in report.runs for o in ffmpeg_checks.ignored_options(r.stderr_tail)})
    asked = ffmpeg_names.asked_names(input or "")
    missing_names = [n for n in asked if not ffmpeg_names.exists(n, ffmpeg)]
    for check in ffmpeg_checks.name_checks(missing_names, asked, ex.prose, argv_text, ignored):
        report.check(check)
    for check in ffmpeg_checks.impossible_selection_checks(exp.streams, ex.prose):
        report.check(check)
    main = finals[0] if finals else None
    if main and probes.get(main):
        for check in ffmpeg_checks.output_checks(exp, probes[main], input_probe, plan.duration, exp.streams):
            report.check(check, output=main)
    elif re.search(r"\S", input or "") and not finals:
        report.check(ffmpeg_checks.Check("an output to inspect", "a media file", "none", False))
    return report.finish(runs=True)
