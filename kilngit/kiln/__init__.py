"""Kiln import and export: `import_kiln(src, project)` and `export_kiln(project, dest)` (see docs/kiln.md)."""

from __future__ import annotations

from kilngit.kiln.importer import ImportReport, KilnImportError, import_kiln

__all__ = ["ImportReport", "KilnImportError", "import_kiln"]
