"""A small, explicit plugin registry, like timm's ``@register_model`` but with no global state
beyond the registry object each subpackage owns, and duplicate names an error.

>>> detectors: Registry[object] = Registry("detector")
>>> @detectors.register("null")
... def make_null() -> object:
...     return None
>>> detectors.names()
['null']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from masque.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps plugin names to factories of one kind (detectors, colour matchers, models...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register ``factory`` under ``name``; a second use of a name raises."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise RegistryError(f"{self.kind} {name!r} is registered twice; plugin names must be unique")
            self._factories[name] = factory
            return factory

        return decorate

    def register_plugin(self, name: str) -> Callable[[T], T]:
        """Decorator: register a plugin that takes no options (a function) as ``name``, itself.

        ``create(name)`` then returns it. Typed by ``T``, so mypy checks the decorated function
        against the registry's protocol; a second use of a name raises.
        """

        def decorate(plugin: T) -> T:
            self.register(name)(lambda: plugin)
            return plugin

        return decorate

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; an unknown name raises with the known ones."""
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def create(self, name: str, **kwargs: object) -> T:
        """Build the plugin registered as ``name`` with ``kwargs``."""
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
