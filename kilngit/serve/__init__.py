"""`kilngit serve`: a local web app over a project's files for browsing, comparing and labeling runs.

Every label made in the browser is an annotation file written by the same rating library as `kilngit rate`,
so it shows up in `git diff`, `kilngit review` and the pull request. Needs the `serve` extra
(`pip install 'kilngit[serve]'`).

    from kilngit.serve import serve
    serve(".", port=8765)                       # blocks; prints the sign-in link
"""

from kilngit.serve.run import serve

__all__ = ["serve"]
