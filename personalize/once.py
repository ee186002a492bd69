"""A value computed on first read and kept in the instance, like ``cached_property``.

``functools.cached_property`` holds one lock per property for the whole
process while it computes (until Python 3.12), so on a threaded server every
request would wait for any other request's first read, a stalled profile read
included. The objects these values live on (a request's context, its handle)
belong to one request, so there is nothing to lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["Once"]

T = TypeVar("T")


class Once(Generic[T]):
    """Decorates a method into a value computed on first read, without a lock."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | Once[T]:
        if instance is None:
            return self
        # a non-data descriptor: once stored, the instance's own entry is read instead
        value: T = self.compute(instance)
        instance.__dict__[self.name] = value
        return value
