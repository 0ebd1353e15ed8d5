"""Names in both directions: Kiln names -> kilngit slugs (stable across re-imports), and kilngit slugs ->
names Kiln accepts."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from kilngit.records import is_slug, slugify

_KILN_FORBIDDEN = re.compile(r"[/\\?%*:|\"<>.,;=\n]")


def json_key(name: str) -> str:
    """Kiln's key for an eval score name ("Refuse Destructive Instructions" -> "refuse_destructive_instructions");
    eval runs store their scores under it."""
    return re.sub(r"[^a-z0-9_]", "", name.strip().lower().replace(" ", "_"))


def score_slug(name: str) -> str:
    """The kilngit name of a Kiln eval score or requirement: Kiln's JSON key when it is a valid slug (so scores
    keep the keys Kiln's eval runs use), else a slug of the name."""
    key = json_key(name)
    return key if is_slug(key) else slugify(name)


def kiln_name(text: str, max_length: int = 120) -> str:
    """A name Kiln accepts (Kiln refuses names with / \\ ? % * : | " < > . , ; = or a newline, repeated
    whitespace or underscores, or leading/trailing spaces and underscores)."""
    name = unicodedata.normalize("NFKD", text)
    name = _KILN_FORBIDDEN.sub(" ", name)
    name = re.sub(r"[\x00-\x1F]", " ", name)
    name = re.sub(r"\s+", " ", name)
    name = re.sub(r"_+", "_", name).strip("_").strip()[:max_length].strip("_").strip()
    return name or "Unnamed"


def title_from_slug(slug: str, max_length: int = 120, words: str = "-") -> str:
    """A readable Kiln name for a slug ("jolly-dolphin" -> "Jolly Dolphin"). Only `words` separate words:
    underscores are kept by default so that the name slugifies back to the same slug."""
    parts = re.split(f"[{re.escape(words)}]+", slug)
    return kiln_name(" ".join(w[:1].upper() + w[1:] for w in parts if w), max_length)


def kiln_id_for(*parts: str) -> str:
    """A 12-digit Kiln ID derived from kilngit identities, the same on every export."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{int(digest, 16) % 10**12:012d}"


_MISSING = object()


class SlugAllocator:
    """Gives each imported item a slug, the same on every import of the same source.

    `existing` maps the slugs already in the target project to their `kiln_id`. An item reuses the slug of
    the existing definition carrying its Kiln ID; otherwise it gets the slug of its name, skipping slugs
    taken by other items of this import or by existing definitions of other origin (`-2`, `-3`...). Items
    are allocated in Kiln creation order, so items added to Kiln later never move earlier items' slugs.
    """

    def __init__(self, existing: dict[str, str | None] | None = None) -> None:
        self.existing = dict(existing or {})
        self.by_kiln_id = {k: s for s, k in sorted(self.existing.items()) if k is not None}
        self.used: set[str] = set()

    def take(self, name: str, kiln_id: str) -> str:
        """The slug for the item called `name` with Kiln ID `kiln_id`."""
        own = self.by_kiln_id.get(kiln_id)
        if own is not None and own not in self.used:
            self.used.add(own)
            return own
        base = slugify(name)
        for candidate in _candidates(base):
            if candidate in self.used:
                continue
            if self.existing.get(candidate, _MISSING) in (_MISSING, kiln_id):
                self.used.add(candidate)
                return candidate
        raise AssertionError("unreachable")

    def reserve(self, slugs: Iterable[str]) -> None:
        """Mark slugs as used by something else in this import."""
        self.used.update(slugs)


def _candidates(base: str) -> Iterable[str]:
    yield base
    n = 2
    while True:
        suffix = f"-{n}"
        yield base[: 64 - len(suffix)].rstrip("-_") + suffix
        n += 1
