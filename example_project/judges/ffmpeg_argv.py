"""The structure of an ffmpeg argv: inputs, outputs, their options, filter graphs and the files they name.

Pure (no processes, no file system). ``ffmpeg_policy`` judges what this finds; the execution judge uses it
to know which files a step reads and writes and how long the inputs must be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# ffmpeg options that take no value; every other option consumes the next token.
# (Only used to tell option values from output file names.)
# fmt: off
FLAG_OPTIONS = frozenset((
    "y", "n", "an", "vn", "sn", "dn", "stdin", "nostdin", "hide_banner", "shortest", "copyts",
    "start_at_zero", "re", "stats", "benchmark", "benchmark_all", "accurate_seek", "autorotate",
    "autoscale", "ignore_unknown", "copy_unknown", "xerror", "dump", "hex", "report", "debug_ts",
    "fix_sub_duration", "bitexact", "print_graphs", "vstats", "psnr", "find_stream_info",
    "recast_media", "copyinkf", "qphist", "version", "buildconf", "formats", "muxers", "demuxers",
    "devices", "codecs", "decoders", "encoders", "bsfs", "protocols", "filters", "pix_fmts",
    "layouts", "sample_fmts", "dispositions", "colors", "hwaccels", "L", "license",
))

# Options whose value is a file name (besides -i and outputs).
FILE_VALUE_OPTIONS = frozenset((
    "attach", "passlogfile", "vstats_file", "progress", "sdp_file", "filter_script",
    "filter_complex_script", "dump_attachment", "hls_segment_filename", "segment_list",
    "hls_key_info_file", "hls_fmp4_init_filename", "master_pl_name", "init_seg_name",
    "media_seg_name", "stats_enc_pre", "stats_enc_post", "stats_mux_pre", "fpre",
))

# Options whose value is a filter graph (searched for file references).
FILTER_OPTIONS = frozenset(("vf", "af", "filter", "filter_complex", "lavfi"))
# fmt: on


@dataclass
class FileArg:
    """One input or output of the command, with the options that precede it."""

    name: str
    options: dict[str, str] = field(default_factory=dict)  # base option name -> value
    index: int = -1  # argv index of the "-i" token (inputs) or of the name (outputs)


@dataclass
class CommandInfo:
    """Structure of an ffmpeg argv, as far as the judge needs it."""

    argv: list[str]
    inputs: list[FileArg] = field(default_factory=list)
    outputs: list[FileArg] = field(default_factory=list)
    options: list[tuple[str, str | None]] = field(default_factory=list)  # (name, value)
    filter_graphs: list[str] = field(default_factory=list)
    filter_files: list[tuple[str, str]] = field(default_factory=list)  # (filter, file)


def option_name(token: str) -> tuple[str, bool]:
    """``-c:v`` -> ``("c", False)``; ``-/filter_complex`` -> ``("filter_complex", True)``."""
    name = token[1:]
    from_file = name.startswith("/")
    if from_file:
        name = name[1:]
    return name.split(":", 1)[0], from_file


def _is_flag(name: str) -> bool:
    return name in FLAG_OPTIONS or (name.startswith("no") and name[2:] in FLAG_OPTIONS)


def _split_unquoted(text: str, seps: str, keep_quotes: bool = False) -> list[str]:
    """Split a filter string on unquoted/unescaped separators; quotes and escapes are dropped unless
    `keep_quotes` (for text that is parsed again later)."""
    parts, cur, quote, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2] if keep_quotes else text[i + 1])
            i += 2
            continue
        if c == "'":
            quote = not quote
            if keep_quotes:
                cur.append(c)
        elif c in seps and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def filter_file_references(graph: str) -> list[tuple[str, str]]:
    """Files named inside a filter graph: subtitles/ass/movie/amovie, drawtext textfile."""
    refs = []
    for chain in _split_unquoted(graph, ";,", keep_quotes=True):
        spec = re.sub(r"^\s*(\[[^\]]*\]\s*)*", "", chain)  # drop input pads
        spec = re.sub(r"(\s*\[[^\]]*\])+\s*$", "", spec)  # drop output pads
        name, _, args = spec.partition("=")
        name = name.strip().split("@", 1)[0]
        if not args:
            continue
        items = _split_unquoted(args, ":")
        if name in ("subtitles", "ass", "movie", "amovie"):
            for pos, item in enumerate(items):
                key, eq, val = item.partition("=")
                if eq and key.strip() in ("filename", "f"):
                    refs.append((name, val.strip()))
                elif not eq and pos == 0:
                    refs.append((name, item.strip()))
        elif name == "drawtext":
            for item in items:
                key, eq, val = item.partition("=")
                if eq and key.strip() in ("textfile", "fontfile"):
                    refs.append((name, val.strip()))
    return [(f, v) for f, v in refs if v]


def analyze_command(argv: list[str]) -> CommandInfo:
    """Split an ffmpeg argv into inputs, outputs, options and filter graphs.

    Options that precede an ``-i`` belong to that input, the others to the next
    output name (ffmpeg's own rule). Tokens that are neither options nor option
    values are output names.
    """
    info = CommandInfo(argv=list(argv))
    pending: dict[str, str] = {}
    i = 1
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-") and len(tok) > 1:
            name, from_file = option_name(tok)
            if _is_flag(name) and not from_file:
                info.options.append((tok[1:], None))
                i += 1
                continue
            value = argv[i + 1] if i + 1 < len(argv) else None
            info.options.append((tok[1:], value))
            if name == "i" and value is not None:
                info.inputs.append(FileArg(value, pending, index=i))
                pending = {}
            elif value is not None:
                pending[name] = value
                if name in FILTER_OPTIONS and not from_file:
                    info.filter_graphs.append(value)
            i += 2
            continue
        info.outputs.append(FileArg(tok, pending, index=i))
        pending = {}
        i += 1
    for inp in info.inputs:
        if inp.options.get("f") == "lavfi":
            info.filter_graphs.append(inp.name)
    for graph in info.filter_graphs:
        info.filter_files.extend(filter_file_references(graph))
    return info


def parse_time(text: str | None) -> float | None:
    """Parse an ffmpeg time duration (``90``, ``1:30``, ``00:01:30.5``, ``1500ms``)."""
    if text is None:
        return None
    t = text.strip()
    neg = t.startswith("-")
    t = t.lstrip("+-")
    m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)", t)
    if m:
        value = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    else:
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)(s|ms|us)?", t)
        if not m:
            return None
        scale = {"s": 1.0, None: 1.0, "ms": 1e-3, "us": 1e-6}[m.group(2)]
        value = float(m.group(1)) * scale
    return -value if neg else value


def time_span_needed(info: CommandInfo) -> float:
    """Largest input position the command seeks to (-ss + -t, -to, -sseof)."""
    needed = 0.0
    for fa in info.inputs + info.outputs:
        ss = parse_time(fa.options.get("ss")) or 0.0
        t = parse_time(fa.options.get("t")) or 0.0
        to = parse_time(fa.options.get("to")) or 0.0
        sseof = abs(parse_time(fa.options.get("sseof")) or 0.0)
        needed = max(needed, ss + t, to, sseof, ss)
    return needed
