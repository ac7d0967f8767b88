"""Finding the sharded Documents of an application: import its modules, collect their specs."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sys
from dataclasses import replace
from types import ModuleType
from typing import Iterable, Sequence

from ..errors import DeclarationError, Interrupted, brief
from .declaration import ShardSpec, spec_for
from .fields import meta_of

__all__ = ["discover", "load_model"]


def discover(module_name: str, *, database: str | None = None) -> list[ShardSpec]:
    """Import a module or package and return the specs of every sharded Document in it.

    Classes sharing a collection through ``allow_inheritance`` give one spec;
    two different declarations for one collection are an error.
    """
    modules = _import_tree(module_name)
    by_namespace: dict[str, ShardSpec] = {}
    for document_class in _document_classes(modules):
        spec = spec_for(document_class, database=database)
        if spec is None:
            continue
        known = by_namespace.get(spec.namespace)
        if known is None:
            by_namespace[spec.namespace] = spec
        elif known == spec:
            by_namespace[spec.namespace] = _with_models(known, spec.models)
        else:
            raise DeclarationError(
                f"Collection {spec.namespace} is declared twice with different shard keys: "
                f"{known.models[0]} says {known.key_pattern}, {spec.models[0]} says {spec.key_pattern}; "
                "make the declarations agree"
            )
    return [by_namespace[ns] for ns in sorted(by_namespace)]


def _with_models(spec: ShardSpec, models: Iterable[str]) -> ShardSpec:
    return replace(spec, models=tuple(sorted(set(spec.models) | set(models))))


def load_model(target: str) -> type:
    """The Document class named by ``"package.module:ClassName"``."""
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise DeclarationError(f"'{target}' must be MODULE:MODEL, e.g. examples.pokemon_storage.models:Creature")
    document_class = getattr(_import(module_name), class_name, None)
    if not isinstance(document_class, type):
        raise DeclarationError(f"module '{module_name}' has no class '{class_name}'; check the spelling")
    meta_of(document_class)
    return document_class


def _import_tree(module_name: str) -> list[ModuleType]:
    module = _import(module_name)
    modules = [module]
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=f"{module_name}."):
        modules.append(_import(info.name))
    return modules


def _import(module_name: str) -> ModuleType:
    """Import the user's module; whatever it prints goes to stderr, so that our output (--json) stays ours."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise DeclarationError(
            f"Cannot import module '{module_name}' ({exc}); check the dotted name and run from the directory "
            "that contains it, or add that directory to PYTHONPATH"
        ) from None
    except (DeclarationError, Interrupted):
        raise
    except BaseException as exc:  # the user's module failed, called sys.exit, or raised anything else while importing
        raise DeclarationError(f"Importing '{module_name}' failed with {type(exc).__name__}: {brief(exc)}") from None


def _document_classes(modules: Sequence[ModuleType]) -> list[type]:
    """Document classes defined (not just imported) in ``modules``, in definition order."""
    names = {m.__name__ for m in modules}
    seen: dict[int, type] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ in names and _is_document(value):
                seen.setdefault(id(value), value)
    return list(seen.values())


def _is_document(candidate: type) -> bool:
    from mongoengine import Document

    return issubclass(candidate, Document) and candidate is not Document

