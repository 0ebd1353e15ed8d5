"""Kiln import and export: `import_kiln(src, project)` and `export_kiln(project, dest)` (see docs/kiln.md)."""

from __future__ import annotations

from kilngit.kiln.export import export_kiln
from kilngit.kiln.exporter import ExportReport
from kilngit.kiln.importer import ImportReport, KilnImportError, import_kiln

__all__ = ["ExportReport", "ImportReport", "KilnImportError", "export_kiln", "import_kiln"]
