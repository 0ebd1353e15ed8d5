"""Internal: the record writer process, started by `kilngit.runner.writer.RecordWriter`.

    python -m kilngit._write_worker PROJECT_ROOT

It reads frames from stdin, each a header (path length, data length, both 4-byte big-endian), a path
relative to the project root and the file's bytes; writes each file atomically and durably; and answers one
line per frame, in order: `+` once the file is on disk, `-` and a message when it could not be written.
Frames that arrive together are written as a batch whose folders are fsynced once, before the answers.

It ignores SIGINT: Ctrl-C stops the batch in the parent, and the writes it already sent still land. It exits
when its stdin closes, after writing every whole frame it received.

Why a process: a writer thread competes for the GIL with the event loop that talks to the model, and at a
few hundred runs per second that contention costs more than the writes themselves.
"""

from __future__ import annotations

import os
import signal
import struct
import sys

from kilngit._io import ReadError, atomic_write, check_no_symlinks, fsync_folder

HEADER = struct.Struct(">II")
_READ_SIZE = 1 << 20


def frame(relpath: str, data: bytes) -> bytes:
    """One write request as the worker reads it."""
    path = relpath.encode()
    return HEADER.pack(len(path), len(data)) + path + data


def split_frames(buffer: bytearray) -> tuple[list[tuple[str, bytes]], int]:
    """The whole frames at the start of `buffer`, and how many bytes they take."""
    frames, at = [], 0
    while len(buffer) - at >= HEADER.size:
        path_len, data_len = HEADER.unpack_from(buffer, at)
        end = at + HEADER.size + path_len + data_len
        if end > len(buffer):
            break
        start = at + HEADER.size
        frames.append((buffer[start : start + path_len].decode(), bytes(buffer[start + path_len : end])))
        at = end
    return frames, at


def write_batch(root: str, frames: list[tuple[str, bytes]]) -> bytes:
    """Write each frame's file; return the answer lines."""
    answers, folders = [], set()
    for relpath, data in frames:
        try:
            check_no_symlinks(root, relpath)  # also refuses absolute paths and ..
            path = os.path.join(root, relpath)
            atomic_write(path, data, sync_folder=False)
            folders.add(os.path.dirname(path))
            answers.append(b"+\n")
        except (OSError, ValueError, ReadError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            answers.append(b"-" + f"{relpath}: {reason}".replace("\n", " ").encode() + b"\n")
    for folder in folders:
        fsync_folder(folder)
    return b"".join(answers)


def serve(root: str, stdin: int = 0, stdout: int = 1) -> None:
    """Answer frames from `stdin` until it closes. If nobody reads the answers any more (the parent died),
    go on writing what arrives: every whole frame received is a finished run."""
    buffer = bytearray()
    answering = True
    while chunk := os.read(stdin, _READ_SIZE):
        buffer += chunk
        frames, used = split_frames(buffer)
        del buffer[:used]
        answers = memoryview(write_batch(root, frames)) if frames else None
        while answering and answers:
            try:
                answers = answers[os.write(stdout, answers) :]
            except BrokenPipeError:
                answering = False


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.argv[1])
