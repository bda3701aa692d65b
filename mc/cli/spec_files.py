"""Reading flow specs from JSON and YAML files.

A spec file is untrusted input, so the readers are strict about what a
plain parser lets through:

* YAML aliases (``*name``) are refused outright. A spec has no use for them,
  and a few hundred bytes of nested aliases (a "billion laughs" file) expand
  to gigabytes. Anchors without aliases are harmless and allowed.
* A key given twice in one mapping (YAML) or object (JSON) is an error
  naming the key, instead of the last one silently winning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mc.errors import FlowSpecError


class _ObjectWithDuplicateKey(dict):  # type: ignore[type-arg]
    """A JSON object that named ``duplicate`` twice; found again after parsing."""

    duplicate: str = ""


def _load_json_objects(text: str) -> tuple[Any, bool]:
    """Parse ``text``; also say whether some object named a key twice."""
    found = False

    def make_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        result = dict(pairs)
        if len(result) == len(pairs):
            return result
        marked = _ObjectWithDuplicateKey(result)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                marked.duplicate = key
                break
            seen.add(key)
        found = True
        return marked

    return json.loads(text, object_pairs_hook=make_object), found


def _find_duplicate(value: Any, path: str = "") -> tuple[str, str] | None:
    """Return (path, key) of the first object that named a key twice."""
    if isinstance(value, _ObjectWithDuplicateKey):
        return path, value.duplicate
    if isinstance(value, dict):
        items: Any = ((f"{path}.{name}" if path else name, item) for name, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for item_path, item in items:
        found = _find_duplicate(item, item_path)
        if found is not None:
            return found
    return None


def load_flow_spec_file(path: str | Path) -> Any:
    """Return the flow spec stored in a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises :class:`~mc.errors.FlowSpecError` naming the file (and, where
    the parser knows it, the line and column) if it cannot be read or
    parsed, if a YAML file uses an alias, or if a key appears twice in one
    mapping; the spec itself is checked later, by the engine.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise FlowSpecError(str(path), f"not UTF-8 text: {error.reason}") from None
    except OSError as error:
        raise FlowSpecError(
            str(path), f"cannot read the file: {error.strerror or error}"
        ) from error
    if path.suffix.lower() == ".json":
        return _load_json(text, path)
    return _load_yaml(text, path)


def _load_json(text: str, path: Path) -> Any:
    try:
        spec, has_duplicate = _load_json_objects(text)
    except json.JSONDecodeError as error:
        raise FlowSpecError(
            f"{path}:{error.lineno}:{error.colno}", f"invalid JSON: {error.msg}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise FlowSpecError(str(path), f"invalid JSON: {error}") from None
    if has_duplicate:
        # Only now, on the error path, walk the spec to say where.
        found = _find_duplicate(spec)
        where, key = found if found is not None else ("", "?")
        raise FlowSpecError(f"{path}: {where or 'the top-level object'}", f"duplicate key {key!r}")
    return spec


def _load_yaml(text: str, path: Path) -> Any:
    import yaml  # only the CLI needs YAML; mc.flows stays standard-library only

    loader = _strict_yaml_loader(yaml)(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise FlowSpecError(where, f"invalid YAML: {problem}") from None
    except (ValueError, RecursionError) as error:
        raise FlowSpecError(str(path), f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


_LOADER: Any = None


def _strict_yaml_loader(yaml: Any) -> Any:
    """Return (once) a SafeLoader subclass that refuses aliases and duplicate keys."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER

    class StrictSafeLoader(yaml.SafeLoader):  # type: ignore[misc, name-defined]
        """yaml.SafeLoader without aliases, and without duplicate keys."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} is not allowed in a flow spec (aliases can "
                    "expand a small file to gigabytes); write the value out instead",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:
                        continue  # an unhashable key: the base class reports it
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"duplicate key {key!r}",
                            key_node.start_mark,
                        )
            return super().construct_mapping(node, deep)

    _LOADER = StrictSafeLoader
    return _LOADER
