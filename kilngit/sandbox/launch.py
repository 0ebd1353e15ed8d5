"""Runs inside the sandbox before the project's code (standard library only; a script, never imported).

    python -I -S launch.py CPU_S ADDRESS_BYTES PROCESSES FILE_BYTES OPEN_FILES UID -- COMMAND...

Sets the rlimits, then, when the sandbox was started by root (UID > 0), gives up root for UID, a user id of
its own: root is exempt from the process limit and owns most files, and the sandbox keeps only the
capability to change user for this step. Then it becomes COMMAND. Limits are set here rather than before
bubblewrap starts so the process count is the sandbox's own, not every process of the user.
"""

import os
import resource
import sys


def main() -> None:
    cpu, memory, processes, file_bytes, open_files, uid = (int(a) for a in sys.argv[1:7])
    assert sys.argv[7] == "--"
    for limit, value in (
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_FSIZE, file_bytes),
        (resource.RLIMIT_NOFILE, open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    if uid > 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # drops every capability left
    os.execv(sys.argv[8], sys.argv[8:])


if __name__ == "__main__":
    main()
