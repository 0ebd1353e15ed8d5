"""Fine-tuning: dataset splits, training exports, jobs on a backend, and the eval-driven loop.

    splits.py       deterministic, frozen split membership (eval and golden items held out)
    examples.py     training examples (chat messages) from runs, by what to train on
    export.py       OpenAI chat JSONL, and a chat-template renderer making Tinker datums
    jobs.py         the fine-tune spec, its status file, the run config of a fine-tuned model
    metrics.py      per-step metrics files, written as the steps happen
    backends/       fine-tune backends by name: openai, fireworks, together (hosted), tinker
    tinker_job.py   a Tinker LoRA training client driven from this process, resumable
    dispatch.py     start / status / cancel, handed to the fine-tune's backend
    loop.py         train a round, eval its checkpoint, stop at a threshold or decay the learning rate
    inspect_tasks.py  Inspect AI: the eval set as an Inspect dataset, Inspect tasks scoring loop rounds
    wandb_log.py    optional Weights & Biases logging
    report.py       the fine-tune sections of `kilngit report`

See docs/finetune.md.
"""
