"""Static policy for a generated ffmpeg command: refuse what is unsafe (argv structure: ``ffmpeg_argv``).

Everything in this module is pure (no processes, no file system), so it is cheap
to test and is the first line of defence of the execution judge. The second line
is the sandbox itself (see ``ffmpeg_sandbox``: fresh directory, read-only mounts
elsewhere, no network, unprivileged user, resource limits); neither is relied on alone.

Rules enforced (each violation becomes one human-readable problem string):

* Shell syntax (pipes, ``;``/``&&`` handling, redirections, expansions) is
  judged while the steps are extracted (``ffmpeg_extract``). Backticks and
  ``$(``/``${`` are refused here too, inside argv tokens, whatever the quoting
  (a legitimate ffmpeg command never needs them).
* A step's program must be ``ffmpeg`` (``program_problems``): ``mkdir`` of
  plain relative folders is allowed (the judge makes them), ``ffprobe`` and
  ``ffplay`` only look and are skipped, anything else (``rm``, ``mv``, ``sh -c``,
  ``sudo``, a ``VAR=x`` prefix, a path to a binary...) is refused.
* ``/dev/null`` as an output (the first pass of a two-pass encode) is
  allowed and becomes ``-f null -`` (``null_outputs``).
* Every file the command reads or writes (``-i`` values, output names, values of
  file-valued options such as ``-passlogfile``/``-progress``/``-attach``) must be
  a plain relative path: not absolute, no ``..`` component, no ``~``, no ``:``
  (ffmpeg treats ``proto:`` as a protocol), no shell metacharacters, no control
  characters. ``concat:a.ts|b.ts`` is allowed when every part is such a path.
  ``-`` (stdin/stdout) is refused except as the output of ``-f null``.
* In *any* token (filter graphs included): URLs (``://``), known protocol
  prefixes (``http:``, ``tcp:``, ``file:``, ``pipe:``, ``subfile:`` ...),
  absolute paths, ``..`` components and ``~`` after a filter delimiter
  (``subtitles=/etc/passwd``, ``movie=../x``), NUL/control characters.
* Refused options: ``-protocol_whitelist``/``-protocol_blacklist`` (the sandbox
  sets its own), ``-safe`` (concat demuxer unsafe mode), ``-listen`` (server).
* Refused ``-f`` formats: capture/playback devices (x11grab, v4l2, alsa, pulse,
  ...) and network or multi-target muxers (rtp, rtsp, sap, sdp, tee, fifo, whip).
* Refused filters: those loading native plugins or opening sockets
  (frei0r, ladspa, lv2, zmq, azmq).

Known, documented false positives (acceptable for an eval): a ``/`` right after
``=``/``:``/a quote/space inside drawtext text and a ``~`` at the start of a
text are refused.
"""

from __future__ import annotations

import os
import re
import sys

try:
    from .ffmpeg_argv import FILE_VALUE_OPTIONS, analyze_command, option_name
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ffmpeg_argv import FILE_VALUE_OPTIONS, analyze_command, option_name  # type: ignore[no-redef]

# fmt: off
FORBIDDEN_OPTIONS = {
    "protocol_whitelist": "tampers with the protocol whitelist",
    "protocol_blacklist": "tampers with the protocol blacklist",
    "safe": "changes the concat demuxer safety mode",
    "listen": "makes ffmpeg act as a network server",
}

DEVICE_FORMATS = frozenset((
    "alsa", "pulse", "oss", "sndio", "jack", "openal", "audiotoolbox", "avfoundation", "dshow",
    "gdigrab", "vfwcap", "v4l2", "video4linux2", "video4linux", "x11grab", "xcbgrab", "fbdev",
    "kmsgrab", "libcdio", "libdc1394", "iec61883", "decklink", "android_camera", "sdl", "sdl2",
    "opengl", "caca", "xv", "bktr", "dv1394",
))
NETWORK_FORMATS = frozenset((
    "rtp", "rtp_mpegts", "rtsp", "sap", "sdp", "srtp", "tee", "fifo", "fifo_test", "whip", "whep",
))

PROTOCOLS = frozenset((
    "async", "bluray", "cache", "concat", "concatf", "crypto", "data", "fd", "ffrtmpcrypt",
    "ffrtmphttp", "file", "ftp", "gopher", "gophers", "hls", "http", "httpproxy", "https",
    "icecast", "ipfs", "ipns", "md5", "mmsh", "mmst", "pipe", "prompeg", "rist", "rtmp", "rtmpe",
    "rtmps", "rtmpt", "rtmpte", "rtmpts", "rtp", "rtsp", "sctp", "shared", "smb", "sftp", "srt",
    "srtp", "subfile", "tcp", "tee", "tls", "dtls", "udp", "udplite", "unix", "zmq", "amqp",
    "librtmp", "libsmbclient", "libssh", "android_content",
))
# fmt: on

FORBIDDEN_FILTERS = ("frei0r_src", "frei0r", "ladspa", "lv2", "azmq", "zmq")

SHELL_OPERATOR_TOKENS = frozenset(
    {";", ";;", "&", "&&", "|", "||", "|&", "<", ">", ">>", "<<", "&>", "2>", "2>&1", ">&2"}
)

# A delimiter after which a path/protocol may start inside a token
# (start of token, '=' of an option, ':' between filter args, quotes, ...).
_D = r"""(?:^|[\s=,;:'"|\[\]])"""
_PROTOCOL_RE = re.compile(_D + r"([A-Za-z][A-Za-z0-9_+.-]*)\s*:")
_ABSOLUTE_RE = re.compile(_D + r"(?:/|[A-Za-z]:[\\/])")
_PARENT_RE = re.compile(r"""(?:^|[\s=,;:'"|\[\]/\\])\.\.(?=$|[\s=,;:'"|\[\]/\\])""")
_HOME_RE = re.compile(_D + r"~")
_FILTER_RE = re.compile(r"""(?:^|[\s,;\]'"=])(""" + "|".join(FORBIDDEN_FILTERS) + r""")(?=$|[\s=,;\['"@])""")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PATH_META = set(";|&<>$`\"'\\*?")  # glob chars are tolerated for -i below


# ------------------------------------------------------------------------- policy


def path_problems(name: str, what: str) -> list[str]:
    """Problems with a file name the command reads or writes (must stay in cwd)."""
    if name == "":
        return [f"{what} is an empty file name"]
    problems = []
    if _CONTROL_RE.search(name):
        problems.append(f"{what} {name!r} contains control characters")
    if name.startswith("/") or re.match(r"[A-Za-z]:[\\/]", name):
        problems.append(f"{what} {name!r} is an absolute path (outside the sandbox)")
    if name.startswith("~"):
        problems.append(f"{what} {name!r} refers to a home directory")
    if ".." in re.split(r"[/\\]", name):
        problems.append(f"{what} {name!r} climbs out of the working directory ('..')")
    if ":" in name:
        problems.append(f"{what} {name!r} looks like a URL or protocol (contains ':')")
    meta = sorted(set(name) & (_PATH_META - {"*", "?"}))
    if meta:
        problems.append(f"{what} {name!r} contains shell metacharacters {''.join(meta)!r}")
    if name.startswith("-"):
        problems.append(f"{what} {name!r} starts with '-'")
    return problems


def token_problems(token: str, concat_input: bool = False) -> list[str]:
    """Generic checks applied to every argument, filter graphs included.

    ``concat_input`` marks the value of an ``-i`` that uses the ``concat:``
    protocol, whose parts are checked separately as paths.
    """
    problems = []
    if token in SHELL_OPERATOR_TOKENS or re.fullmatch(r"\d*[<>]&?\d*", token):
        problems.append(f"shell operator {token!r}")
    if _CONTROL_RE.search(token):
        problems.append(f"argument {token!r} contains control characters")
    if "`" in token or "$(" in token or "${" in token:
        problems.append(f"argument {token!r} contains shell command substitution/expansion")
    if "://" in token:
        problems.append(f"argument {token!r} contains a URL")
    else:
        for proto in _PROTOCOL_RE.findall(token):
            if proto.lower() in PROTOCOLS and not (concat_input and proto == "concat"):
                problems.append(f"argument {token!r} uses the {proto.lower()}: protocol")
    if "://" not in token and _ABSOLUTE_RE.search(token):
        problems.append(f"argument {token!r} contains an absolute path")
    if _PARENT_RE.search(token):
        problems.append(f"argument {token!r} contains a '..' path component")
    if _HOME_RE.search(token):
        problems.append(f"argument {token!r} refers to a home directory ('~')")
    m = _FILTER_RE.search(token)
    if m:
        problems.append(f"filter {m.group(1)!r} is not allowed (loads plugins or opens sockets)")
    return problems


def concat_parts(name: str) -> list[str] | None:
    """Parts of a ``concat:a|b`` input, or None when ``name`` is not one."""
    if name.startswith("concat:"):
        return name[len("concat:") :].split("|")
    return None


LOOKING_PROGRAMS = frozenset(("ffprobe", "ffplay"))
_WHY = {
    "rm": "deletes files",
    "rmdir": "deletes folders",
    "mv": "moves files",
    "dd": "writes raw data",
    "shred": "wipes files",
    "cp": "copies files",
    "curl": "uses the network",
    "wget": "uses the network",
}


def program_problems(argv: list[str]) -> list[str]:
    """Why a step that is not an ffmpeg call cannot be part of a judged answer ([] for ffmpeg, mkdir, ffprobe)."""
    prog = argv[0] if argv else ""
    if prog in ("ffmpeg",) or prog in LOOKING_PROGRAMS:
        return []
    if prog == "mkdir":
        folders = [a for a in argv[1:] if a not in ("-p", "--parents")]
        return (
            [p for f in folders for p in path_problems(f, "folder")]
            if folders
            else ["mkdir without a folder"]
        )
    if prog in ("sh", "bash", "zsh", "dash", "env", "sudo", "xargs", "nohup", "time", "exec", "eval"):
        return [f"runs {prog!r} instead of calling ffmpeg directly"]
    if "=" in prog and not prog.startswith("-"):
        return [f"sets an environment variable ({prog!r}) before the command"]
    if prog in ("for", "while", "if", "do", "done", "then", "fi"):
        return [f"a shell {prog!r} construct (only plain ffmpeg commands are run)"]
    why = _WHY.get(os.path.basename(prog))
    return [f"runs {prog!r}" + (f" ({why})" if why else "") + ": only ffmpeg commands are run"]


def null_outputs(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` with ``/dev/null`` (or ``NUL``) outputs turned into ``-f null -``; True when one was."""
    info = analyze_command(argv)
    out, changed = list(argv), False
    for o in reversed(info.outputs):
        if o.name in ("/dev/null", "NUL", "nul"):
            out[o.index] = "-"
            fmt = next((j + 1 for j in range(o.index - 2, 0, -1) if out[j] == "-f"), None)
            previous = max(
                [i.index + 1 for i in info.inputs] + [p.index for p in info.outputs if p.index < o.index]
            )
            if fmt is not None and fmt > previous:
                out[fmt] = "null"
            else:
                out[o.index : o.index] = ["-f", "null"]
            changed = True
    return out, changed


def check_command(argv: list[str]) -> list[str]:
    """All policy problems of an ffmpeg argv; an empty list means "safe to run"."""
    if not argv:
        return ["empty command"]
    prog = argv[0]
    if prog != "ffmpeg":
        return program_problems(argv) or [f"not an ffmpeg invocation: the program is {prog!r}"]
    if len(argv) > 300:
        return ["command is unreasonably long"]

    problems: list[str] = []
    concat_inputs = {
        argv[i + 1] for i in range(1, len(argv) - 1) if argv[i] == "-i" and argv[i + 1].startswith("concat:")
    }
    for tok in argv[1:]:
        problems.extend(token_problems(tok, concat_input=tok in concat_inputs))
        if tok == "ffmpeg":
            problems.append("'ffmpeg' appears twice in one command line: several commands run together")

    info = analyze_command(argv)
    for opt, value in info.options:
        name, from_file = option_name("-" + opt)
        if name in FORBIDDEN_OPTIONS:
            problems.append(f"option -{opt} {FORBIDDEN_OPTIONS[name]}")
        if name == "f" and value is not None:
            fmt = value.lower()
            if fmt in DEVICE_FORMATS:
                problems.append(f"-f {value} reads or writes a device")
            elif fmt in NETWORK_FORMATS:
                problems.append(f"-f {value} is a network or multi-target format")
        if value is not None and (name in FILE_VALUE_OPTIONS or from_file):
            problems.extend(path_problems(value, f"file for -{opt}"))

    if not info.inputs:
        problems.append("no input (-i) given")
    if len(info.inputs) > 10 or len(info.outputs) > 10:
        problems.append("too many inputs or outputs")
    for inp in info.inputs:
        if inp.options.get("f") == "lavfi":
            continue  # a filter graph, checked by token_problems
        if inp.name in ("-", "pipe:", "pipe:0"):
            problems.append("input reads from stdin")
            continue
        parts = concat_parts(inp.name)
        for part in parts if parts is not None else [inp.name]:
            problems.extend(path_problems(part, "input"))
    for out in info.outputs:
        if out.name == "-" and out.options.get("f") == "null":
            continue  # "-f null -": decode only, writes nothing
        if out.name == "-":
            problems.append("output goes to stdout ('-')")
            continue
        problems.extend(path_problems(out.name, "output"))
        if set(out.name) & {"*", "?"}:
            problems.append(f"output {out.name!r} contains glob characters")
    for flt, name in info.filter_files:
        problems.extend(path_problems(name, f"file of filter {flt}"))
    return list(dict.fromkeys(problems))
