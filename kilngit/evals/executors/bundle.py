"""The project code a cluster worker needs, taken by value on the coordinator after its trust check.

    bundle = code_bundle(project.root, "code judge exec")   # raises UntrustedError first, like a local run
    root = bundle.unpack(folder)                            # on the worker: the code at a folder of its own

What is shipped is exactly what trust covers as code (`kilngit.trust.items`: `.py` and friends, executables,
symlinks), read once and checked against the content hashes trust was just checked on, so a file edited
between the check and the read is refused rather than sent. Records, definitions and data files are not
shipped: a judge gets the run and the task in its request, and reads nothing else of the project.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kilngit.errors import KilngitError
from kilngit.trust import UntrustedError, require_trusted, review

MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class CodeBundle:
    """Path (relative, POSIX) -> file bytes and executable bit; symlinks by their target."""

    files: dict[str, tuple[bytes, bool]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Content hash of the whole bundle (workers unpack each bundle once)."""
        h = hashlib.sha256()
        for path, (data, executable) in sorted(self.files.items()):
            h.update(b"f%d:%s\0%d\0" % (executable, path.encode(), len(data)) + data)
        for path, target in sorted(self.links.items()):
            h.update(b"l:%s\0%s\0" % (path.encode(), target.encode()))
        return h.hexdigest()

    def unpack(self, folder: Path) -> Path:
        """Write the bundle into the new folder `folder` (readable by the sandbox's own user) and return it."""
        folder.mkdir(mode=0o755)
        for path, (data, executable) in self.files.items():
            target = _inside(folder, path)
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o755 if executable else 0o644)
        for path, link in self.links.items():
            target = _inside(folder, path)
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.symlink_to(link)
        for parent, dirs, _files in os.walk(folder):
            for d in dirs:  # mkdir's mode is masked by the umask
                os.chmod(os.path.join(parent, d), 0o755)
        folder.chmod(0o755)
        return folder


def code_bundle(root: Path, what: str) -> CodeBundle:
    """The project's code as trusted on this machine; `what` names the work for the trust error."""
    require_trusted(root, what)
    current = review(root).current
    files: dict[str, tuple[bytes, bool]] = {}
    links: dict[str, str] = {}
    size = 0
    for path, (kind, sha) in current.items():
        if kind != "code":
            continue
        full = Path(root) / path
        if full.is_symlink():
            target = os.readlink(full)
            read_sha = _blob(os.fsencode(target))
            links[path] = target
        else:
            data = full.read_bytes()
            read_sha = _blob(data)
            files[path] = (data, bool(full.stat().st_mode & stat.S_IXUSR))
            size += len(data)
        if read_sha != sha:
            raise UntrustedError(
                f"{path} changed while it was being sent to the cluster", f"run {what} again"
            )
    if size > MAX_BYTES:
        raise KilngitError(
            f"the project's code is {size >> 20} MiB, more than the {MAX_BYTES >> 20} MiB sent to cluster workers",
            "keep large executables out of the project (or run code judges locally: --executor local)",
        )
    return CodeBundle(files, links)


def _blob(data: bytes) -> str:
    """The git blob id of `data` (what trust records)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _inside(folder: Path, path: str) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
        raise ValueError(f"not a relative path inside the project: {path!r}")
    return folder.joinpath(*parts)
