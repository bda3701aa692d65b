"""Reading flow specs from JSON and YAML files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mc.errors import FlowSpecError


def load_flow_spec_file(path: str | Path) -> Any:
    """Return the flow spec stored in a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises :class:`~mc.errors.FlowSpecError` naming the file if it cannot be
    read or parsed; the spec itself is checked later, by the engine.
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
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise FlowSpecError(
                f"{path}:{error.lineno}:{error.colno}", f"invalid JSON: {error.msg}"
            ) from None
        except (ValueError, RecursionError) as error:
            raise FlowSpecError(str(path), f"invalid JSON: {error}") from None
    import yaml  # only the CLI needs YAML; mc.flows stays standard-library only

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise FlowSpecError(where, f"invalid YAML: {problem}") from None
    except (ValueError, RecursionError) as error:
        raise FlowSpecError(str(path), f"invalid YAML: {error}") from None
