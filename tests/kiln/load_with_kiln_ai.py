"""Load a Kiln project with kiln-ai and print what it holds as JSON. Run with a python that has kiln_ai:

    $KILN_PYTHON tests/kiln/load_with_kiln_ai.py PROJECT_FOLDER

Used by the export tests and bench/kiln_import.py; kept free of kilngit imports (kilngit is not installed
in kiln-ai's environment).
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main(folder: str) -> None:
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    from kiln_ai.datamodel import Project

    imported = time.perf_counter()
    project = Project.load_from_file(f"{folder}/project.kiln")
    out: dict = {"project": project.name, "tasks": []}
    for task in project.tasks():
        runs = task.runs()
        evals = []
        for ev in task.evals():
            configs = ev.configs()
            eval_runs = [r for c in configs for r in c.runs()]
            evals.append(
                {
                    "name": ev.name,
                    "configs": len(configs),
                    "eval_runs": len(eval_runs),
                    "generations": sum(1 for r in eval_runs if not r.eval_config_eval),
                    "current_config_id": ev.current_config_id,
                    "scores": [s.name for s in ev.output_scores],
                }
            )
        out["tasks"].append(
            {
                "name": task.name,
                "runs": len(runs),
                "requirements": len(task.requirements),
                "rated": sum(1 for r in runs if r.output.rating is not None),
                "requirement_ratings": sum(
                    len(r.output.rating.requirement_ratings) for r in runs if r.output.rating
                ),
                "repaired": sum(1 for r in runs if r.repaired_output is not None),
                "tags": sorted({t for r in runs for t in r.tags}),
                "prompts": len(task.prompts()),
                "run_configs": len(task.run_configs()),
                "dataset_splits": len(task.dataset_splits()),
                "finetunes": len(task.finetunes()),
                "evals": evals,
                "eval_runs": sum(e["eval_runs"] for e in evals),
            }
        )
    out["load_seconds"] = round(time.perf_counter() - imported, 3)
    out["import_seconds"] = round(imported - start, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
