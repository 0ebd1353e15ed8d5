"""kill -9 at random points of `kilngit import kiln` on the Kiln demo (or any Kiln project), many times:
after each kill the project must validate and the next command must leave no temp file or stage folder;
the final re-run must match a clean import byte for byte.

    python bench/import_kills.py [SRC] [--kills 50] [--seed 1] [--tmp DIR]

SRC defaults to ../shared/kiln_demo/end_to_end_project_demo (next to the repository). Prints one line per
kill (when it landed, whether the project existed yet) and a summary; exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kilngit", *args], capture_output=True, text=True, cwd=HERE.parent
    )


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).as_posix().startswith((".git/", ".kilngit/"))
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("src", nargs="?", default=str(DEFAULT_SRC))
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tmp", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kilngit-import-kills-", dir=args.tmp))
    start = time.monotonic()
    assert cli("import", "kiln", args.src, "--into", str(tmp / "clean")).returncode == 0
    duration = time.monotonic() - start
    expected = files(tmp / "clean")
    print(f"clean import: {duration:.1f}s, {len(expected)} files")
    rng = random.Random(args.seed)
    dest = tmp / "killed"
    for i in range(args.kills):
        proc = subprocess.Popen(
            [sys.executable, "-m", "kilngit", "import", "kiln", args.src, "--into", str(dest)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=HERE.parent,
        )
        at = rng.uniform(0, duration)
        time.sleep(at)
        proc.kill()
        proc.wait()
        exists = (dest / "kilngit.yaml").exists()
        if exists:
            check = cli("-C", str(dest), "validate")
            if check.returncode != 0:
                print(f"kill {i} at {at:.2f}s: project invalid\n{check.stdout}{check.stderr}")
                return 1
            cli("-C", str(dest), "status")
            left = [p for p in dest.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".import-")]
            if left:
                print(f"kill {i} at {at:.2f}s: left behind {left[:5]}")
                return 1
        print(f"kill {i} at {at:.2f}s: ok ({'project valid' if exists else 'no project yet'})")
    assert cli("import", "kiln", args.src, "--into", str(dest)).returncode == 0
    same = files(dest) == expected
    print(
        f"{args.kills} kills: project valid after each; re-run {'matches' if same else 'DIFFERS FROM'} a clean "
        f"import ({tmp})"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
