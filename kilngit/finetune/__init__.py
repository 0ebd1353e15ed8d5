"""Fine-tuning: dataset splits, training exports, OpenAI and Tinker jobs, and the eval-driven loop.

    splits.py       deterministic, frozen split membership
    examples.py     training examples (chat messages) from runs, by what to train on
    export.py       OpenAI chat JSONL and Tinker supervised datums
    jobs.py         the fine-tune spec and status: create, dispatch, refresh, cancel
    openai_job.py   OpenAI files + fine-tuning jobs
    tinker_job.py   a LoRA training client driven from this process
    loop.py         train a round, eval its checkpoint, stop at a threshold or decay the learning rate
"""
