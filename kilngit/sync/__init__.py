"""`kilngit watch`: watch a project, validate and commit changed files, run pending jobs, pull and push.

Modules: `watcher` (file events), `debounce` (quiet windows), `committer` (validate and commit), `message`
(commit messages), `jobs` / `jobrun` (pending work), `queue` (job requests), `syncer` (pull --rebase, push),
`lock` (one watcher per project, the commit lock), `recovery` (after a crash), `daemon` (the main loop).
"""
