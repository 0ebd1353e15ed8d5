"""Trust on pull: code and jobs that arrived from someone else run only once this machine trusts them.

    found = review(project.root)     # Review: untrusted items (new or changed code, code judges, auto-run
                                     # evals, queue requests), recording this machine's own edits as trusted
    trust(found)                     # `kilngit trust`: record everything as it is now
    require_trusted(root, "code judge exec")   # raises UntrustedError naming what to review

The record lives outside the repository (`store.py`), keyed by content hash. `KILNGIT_TRUST=always` trusts
everything (throwaway CI machines, the test suite); `kilngit --trust CMD` trusts what is checked out when CMD
starts.
"""

from kilngit.trust.review import ENV, Item, Review, UntrustedError, diff, require_trusted, review, trust

__all__ = ["ENV", "Item", "Review", "UntrustedError", "diff", "require_trusted", "review", "trust"]
