"""Server-side website personalization for WSGI sites, with human-centred guardrails.

>>> from personalize import PersonalizeMiddleware
>>> app.wsgi_app = PersonalizeMiddleware(app.wsgi_app, rules="rules/", secret=SECRET)

See ``README.md`` for the tour and ``docs/`` for the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Decision", "PersonalizeMiddleware", "Personalizer", "__version__"]

if TYPE_CHECKING:
    from .decision import Decision
    from .engine import Personalizer
    from .middleware import PersonalizeMiddleware

_LAZY = {
    "Decision": "personalize.decision",
    "Personalizer": "personalize.engine",
    "PersonalizeMiddleware": "personalize.middleware",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `personalize check` starts without importing numpy and scikit-learn.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'personalize' has no attribute {name!r}")
