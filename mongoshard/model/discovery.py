"""Finding the Documents of an application: import its modules, collect their specs, and say what went wrong where.

Real code bases do not import cleanly as a whole: an optional dependency is
missing, ``tests/conftest.py`` needs pytest, a module prints while importing,
the connection is made at start-up rather than at import.  So a scan skips
test modules, reports a module that fails (with the file and line) and goes
on, keeps the modules' stdout out of ours, and leaves a database it cannot
know as ``UNKNOWN_DATABASE`` instead of failing.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field, replace
from types import ModuleType
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import DeclarationError, Interrupted, brief
from ..files import user_output_to_stderr
from .declaration import ShardSpec, deferred_declaration_errors, spec_for
from .fields import UNKNOWN_DATABASE, meta_of

__all__ = ["discover", "scan", "Discovery", "Problem", "load_model", "UNKNOWN_DATABASE", "is_test_module", "switches_collection"]

@dataclass(frozen=True)
class Problem:
    """A module that could not be imported, or a model whose declaration is wrong."""

    subject: str
    message: str
    location: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Discovery:
    specs: tuple[ShardSpec, ...]
    unsharded: tuple[type, ...] = ()
    problems: tuple[Problem, ...] = ()
    skipped: tuple[str, ...] = field(default=(), compare=False)
    imported: tuple[str, ...] = field(default=(), compare=False)


def discover(module_name: str, *, database: str | None = None) -> list[ShardSpec]:
    """Import a module or package and return the specs of every sharded Document in it; the first problem raises.

    Classes sharing a collection through ``allow_inheritance`` give one spec;
    two different declarations for one collection are an error.
    """
    if not isinstance(module_name, str) or not module_name:
        raise DeclarationError(f"discover needs a module's dotted name such as 'myapp.models', not {module_name!r:.60}")
    found = scan([module_name], database=database, strict=True)
    if found.problems:
        raise DeclarationError(found.problems[0].message)
    return list(found.specs)


def scan(targets: Sequence[str], *, database: str | None = None, aliases: Mapping[str, str] | None = None,
         fallback_database: str | None = None, include_tests: bool = False, strict: bool = False) -> Discovery:
    """Every Document of the modules and packages named, their specs, and the problems met on the way.

    The database of a spec is ``database`` when given, else ``meta['shard_database']``, else ``aliases`` for the
    class's ``db_alias``, else the connection registered with mongoengine, else (unless ``strict``)
    ``fallback_database`` or ``UNKNOWN_DATABASE``.
    """
    targets = list(targets) if isinstance(targets, Iterable) and not isinstance(targets, (str, bytes)) else targets
    if not isinstance(targets, list) or not all(isinstance(target, str) for target in targets):
        # a string would be read one character at a time
        raise DeclarationError(f"scan needs a list of dotted module names such as ['myapp.models'], not {targets!r:.60}")
    for name, value in (("database", database), ("fallback_database", fallback_database)):
        if value is not None and (not isinstance(value, str) or not value):
            raise DeclarationError(f"{name} is a database name such as 'app', not {value!r:.60}")
    problems: list[Problem] = []
    modules: list[ModuleType] = []
    skipped: list[str] = []
    unregistered: list[tuple[str, Problem]] = []
    with deferred_declaration_errors():
        for target in dict.fromkeys(targets):
            _import_tree(target, modules, problems, skipped, unregistered, include_tests=include_tests, top=True)
        _retry_unregistered(unregistered, modules, problems, skipped, include_tests=include_tests)
    by_namespace: dict[str, ShardSpec] = {}
    unsharded: list[type[Any]] = []
    for document_class in _document_classes(modules):
        try:
            spec = spec_for(document_class, database=database, aliases=aliases,
                            unknown_database=None if strict else fallback_database or UNKNOWN_DATABASE)
        except DeclarationError as error:
            problems.append(Problem(_model_name(document_class), str(error), _where_defined(document_class)))
            continue
        if spec is None:
            if not document_class._meta.get("abstract"):
                unsharded.append(document_class)
            continue
        known = by_namespace.get(spec.namespace)
        if known is None:
            by_namespace[spec.namespace] = spec
        elif known == spec:
            by_namespace[spec.namespace] = _with_models(known, spec.models)
        else:
            problems.append(Problem(spec.namespace, (
                f"Collection {spec.namespace} is declared twice with different shard keys: "
                f"{known.models[0]} says {known.key_pattern}, {spec.models[0]} says {spec.key_pattern}; "
                "make the declarations agree")))
    return Discovery(tuple(by_namespace[ns] for ns in sorted(by_namespace)), tuple(unsharded), tuple(problems),
                     tuple(skipped), tuple(m.__name__ for m in modules))


def is_test_module(module_name: str) -> bool:
    """``tests``/``test`` packages, ``conftest`` and ``test_*`` modules: what pytest collects, not the application."""
    return any(part in ("tests", "test", "conftest") or part.startswith("test_") for part in module_name.split("."))


def load_model(target: str) -> type[Any]:
    """The Document class named by ``"package.module:ClassName"``."""
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise DeclarationError(f"'{target}' must be MODULE:MODEL, e.g. examples.pokemon_storage.models:Creature")
    document_class = getattr(_import(module_name), class_name, None)
    if not isinstance(document_class, type):
        raise DeclarationError(f"module '{module_name}' has no class '{class_name}'; check the spelling")
    meta_of(document_class)
    return document_class


def switches_collection(document_class: type[Any]) -> bool:
    """Whether the model's module calls ``switch_collection`` or ``switch_db`` (one collection per entity, say): its
    documents may then live in collections a scan of the models does not see."""
    try:
        source = inspect.getsource(sys.modules[document_class.__module__])
    except (OSError, TypeError, KeyError):
        return False
    return "switch_collection(" in source or "switch_db(" in source


def _with_models(spec: ShardSpec, models: Iterable[str]) -> ShardSpec:
    return replace(spec, models=tuple(sorted(set(spec.models) | set(models))))


def _import_tree(name: str, modules: list[ModuleType], problems: list[Problem], skipped: list[str],
                 unregistered: list[tuple[str, Problem]], *, include_tests: bool, top: bool = False) -> None:
    """Import ``name`` and, for a package, every module under it (test modules skipped unless named), recording
    failures; a named module that does not exist is bad input and raises.  A module that failed because a model it
    references by name is not registered yet (mongoengine's NotRegistered) is kept aside to be tried again."""
    if not include_tests and not top and is_test_module(name):
        skipped.append(name)
        return
    try:
        module = _import(name)
    except ModuleMissing:
        if top:
            raise
        return  # listed by pkgutil but gone: nothing to analyse
    except DeclarationError as error:
        problem = Problem(name, str(error), *_failure_site(error.__cause__))
        if type(error.__cause__).__name__ == "NotRegistered":
            unregistered.append((name, problem))
        else:
            problems.append(problem)
        return
    modules.append(module)
    for child in _children(module):
        _import_tree(f"{name}.{child}", modules, problems, skipped, unregistered, include_tests=include_tests)


def _retry_unregistered(unregistered: list[tuple[str, Problem]], modules: list[ModuleType], problems: list[Problem],
                        skipped: list[str], *, include_tests: bool) -> None:
    """Import again, after the others, the modules that referenced a model not registered yet (a package imported in
    alphabetical order: ``LazyReferenceField("Projects", reverse_delete_rule=CASCADE)`` before ``projects``), as
    long as one more of them imports each round."""
    while unregistered:
        pending, unregistered[:] = list(unregistered), []
        before = len(modules)
        for name, _ in pending:
            _import_tree(name, modules, problems, skipped, unregistered, include_tests=include_tests)
        if len(modules) == before:
            problems.extend(problem for _, problem in unregistered)
            return


def _children(package: ModuleType) -> list[str]:
    """The modules and packages under a package, namespace packages (folders without __init__.py) included, which
    pkgutil does not list."""
    locations = list(getattr(package, "__path__", []))
    names = [info.name for info in pkgutil.iter_modules(locations)]
    for location in locations:
        try:
            entries = sorted(os.scandir(location), key=lambda entry: entry.name)
        except OSError:
            continue
        names += [entry.name for entry in entries if entry.is_dir() and entry.name.isidentifier()
                  and not os.path.exists(os.path.join(entry.path, "__init__.py"))
                  and any(name.endswith(".py") or os.path.isdir(os.path.join(entry.path, name)) and name != "__pycache__"
                          for name in os.listdir(entry.path))]
    return list(dict.fromkeys(names))


class ModuleMissing(DeclarationError):
    """The module named does not exist (as opposed to existing and failing)."""


def _import(module_name: str) -> ModuleType:
    """Import the user's module; whatever it prints goes to stderr, so that our output (--json) stays ours."""
    if not all(part.isidentifier() for part in module_name.split(".")):
        suggestion = module_name.removesuffix(".py").strip("./").replace("/", ".")
        hint = f" such as '{suggestion}'" if suggestion and all(p.isidentifier() for p in suggestion.split(".")) else ""
        raise ModuleMissing(f"'{module_name}' is not a dotted module name; give one{hint}, from the directory that "
                            "holds it")
    try:
        with user_output_to_stderr():
            return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ModuleMissing(
                f"Cannot import module '{module_name}' ({exc}); check the dotted name and run from the directory "
                "that contains it, or add that directory to PYTHONPATH"
            ) from None
        raise DeclarationError(f"Importing '{module_name}' failed with ModuleNotFoundError: {brief(exc)}") from exc
    except (DeclarationError, Interrupted):
        raise
    except BaseException as exc:  # the user's module failed, called sys.exit, or raised anything else while importing
        raise DeclarationError(f"Importing '{module_name}' failed with {type(exc).__name__}: {brief(exc)}") from exc


def _failure_site(exc: BaseException | None) -> tuple[str | None, str]:
    """Where the user's code failed (file:line, the innermost frame outside importlib) and the whole traceback."""
    if exc is None:
        return None, ""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}", "".join(traceback.format_exception(exc))
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "importlib" not in frame.filename]
    user_frames = [frame for frame in frames if "/mongoshard/" not in frame.filename] or frames
    location = f"{user_frames[-1].filename}:{user_frames[-1].lineno}" if user_frames else None
    return location, "".join(traceback.format_exception(exc))


def _where_defined(document_class: type[Any]) -> str | None:
    try:
        return f"{inspect.getsourcefile(document_class)}:{inspect.getsourcelines(document_class)[1]}"
    except (OSError, TypeError):
        return None


def _model_name(document_class: type[Any]) -> str:
    return f"{document_class.__module__}.{document_class.__qualname__}"


def _document_classes(modules: Sequence[ModuleType]) -> list[type[Any]]:
    """Document classes reached through ``modules``, defined there or re-exported (``udata.models`` gathers the
    models of every package), each once, in the order met."""
    seen: dict[int, type] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and _is_document(value):
                seen.setdefault(id(value), value)
    return list(seen.values())


def _is_document(candidate: type[Any]) -> bool:
    from mongoengine import Document

    return issubclass(candidate, Document) and not candidate.__module__.split(".")[0] == "mongoengine"
