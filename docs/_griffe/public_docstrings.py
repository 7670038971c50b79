"""Griffe extension for the API reference: every public name has a docstring.

The package is loaded by inspection (`force_inspection: true` in
`mkdocs.yml`): its optimizer classes are made at import time by `with_clr`,
and two of them exist only on newer Keras releases, so static analysis cannot
see them. Inspection gives a module-level constant (a tuple, say) the
docstring of its type, and cannot see the string written after it in the
source. This extension therefore:

1. replaces such an inherited type docstring with the constant's docstring
   from the source (found by static analysis), or removes it when the source
   has none;
2. logs a warning for every name in the package's `__all__` that is left
   without a docstring of its own.

MkDocs turns the warning into a failed build under `strict: true`.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe

_logger = griffe.get_logger("griffe_public_docstrings")


class PublicDocstrings(griffe.Extension):
    """Fails the strict build for a public name without a docstring."""

    def __init__(self, packages: list[str] | None = None) -> None:
        self.packages = set(packages or [])

    def on_package(
        self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any
    ) -> None:
        if self.packages and pkg.name not in self.packages:
            return
        static = None
        runtime = None
        for name in pkg.exports or []:
            if not isinstance(name, str):
                continue
            try:
                obj = pkg[name]
            except (KeyError, griffe.AliasResolutionError):
                _logger.warning(
                    "%s.%s is in __all__ but could not be found", pkg.path, name
                )
                continue
            target = obj.final_target if obj.is_alias else obj
            if target.is_attribute and target.analysis == "dynamic":
                if runtime is None:
                    runtime = importlib.import_module(pkg.path)
                value = getattr(runtime, name, None)
                if target.docstring is not None and (
                    type(value).__doc__ is not None
                    and target.docstring.value
                    == griffe.Docstring(type(value).__doc__).value
                ):
                    # The type's docstring, not the constant's.
                    target.docstring = None
                if target.docstring is None:
                    if static is None:
                        static = _load_statically(pkg.path, loader)
                    source_doc = _static_docstring(static, name)
                    if source_doc is not None:
                        target.docstring = griffe.Docstring(
                            source_doc.value,
                            lineno=source_doc.lineno,
                            endlineno=source_doc.endlineno,
                            parent=target,
                            parser=loader.docstring_parser,
                            parser_options=loader.docstring_options,
                        )
            if target.docstring is None or not target.docstring.value.strip():
                _logger.warning(
                    "%s.%s is public (in __all__) but has no docstring of its "
                    "own; for a constant, write the docstring as a string "
                    "right after the assignment",
                    pkg.path,
                    name,
                )


def _load_statically(package: str, loader: griffe.GriffeLoader):
    try:
        return griffe.load(
            package,
            search_paths=loader.finder.search_paths,
            modules_collection=griffe.ModulesCollection(),
            allow_inspection=False,
            resolve_aliases=False,
        )
    except Exception:  # noqa: BLE001
        return None


def _static_docstring(static, name):
    if static is None:
        return None
    try:
        obj = static[name]
        if obj.is_alias:
            obj = obj.final_target
    except Exception:  # noqa: BLE001
        return None
    return obj.docstring
