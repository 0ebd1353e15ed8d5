"""Fine-tuning: dataset splits, training exports, OpenAI and Tinker jobs, and the eval-driven loop.

    splits.py       deterministic, frozen split membership (eval and golden items held out)
    examples.py     training examples (chat messages) from runs, by what to train on
    export.py       OpenAI chat JSONL, and a chat-template renderer making Tinker datums
    jobs.py         the fine-tune spec, its status file, the run config of a fine-tuned model
    metrics.py      per-step metrics files, written as the steps happen
    openai_job.py   OpenAI files + fine-tuning jobs: upload and create at most once, poll, cancel
    tinker_job.py   a Tinker LoRA training client driven from this process, resumable
    dispatch.py     start / status / cancel for either provider
    loop.py         train a round, eval its checkpoint, stop at a threshold or decay the learning rate
    wandb_log.py    optional Weights & Biases logging
    report.py       the fine-tune sections of `kilngit report`

See docs/finetune.md.
"""
