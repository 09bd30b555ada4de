"""Reading YAML text safely: plain data only, bounded in size, every failure a YAML error.

A scenario file is data written by a person, so reading it must never run code,
never take unbounded time or memory, and never fail with anything but a message
that points at the text. Three things stand between PyYAML and those promises:

- The safe loader constructs plain values only (no ``!!python/...`` tags), and
  this one also refuses a key written twice in one mapping, which YAML would
  otherwise resolve silently to the last value.
- Aliases share one node, so a few lines of anchors can stand for billions of
  values ("billion laughs") that later code walking the data would expand.
  :func:`parse_checked` reads the event stream first, building nothing, and
  refuses documents that expand past :data:`MAX_VALUES` values, nest deeper
  than :data:`MAX_DEPTH`, or hold an alias to a value containing it. The checked
  events are then composed and constructed, so the text is parsed only once.
- Some scalars match YAML's patterns yet cannot be built (``2024-13-45`` looks
  like a date, a 5,000-digit integer exceeds Python's conversion limit). They are
  kept as text, so the scenario's reader reports them under their key path.

Every error leaves this module as a :class:`yaml.YAMLError` with a position.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any, cast

import yaml
from yaml import events

from sim.scenario.units import show_value

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "RefusedDocument", "load", "parse_checked"]

MAX_BYTES = 4 * 1024 * 1024
"""Largest scenario file read (the shipped ones are under 20 kB)."""
MAX_VALUES = 100_000
"""Most values (scalars and collections, aliases expanded) a document may hold."""
MAX_DEPTH = 64
"""Deepest nesting of collections (the schema itself is at most 7 deep)."""


class RefusedDocument(yaml.MarkedYAMLError):
    """Well-formed YAML that is refused for its shape (size, depth, self-reference)."""


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """Safe constructor that refuses duplicate keys and keeps unbuildable scalars as text."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build a node; any failure of a constructor becomes a positioned YAML error.

        PyYAML's constructors assume the scalar matched their pattern; an explicit
        tag (``!!int ''``, ``!!bool maybe``) breaks that with IndexError, KeyError
        and the like, which must not escape as a traceback.
        """
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            problem = f"cannot read this value as {node.tag.rsplit(':', 1)[-1]}: {exc!r}"
            raise yaml.constructor.ConstructorError(
                None, None, problem[:200], node.start_mark
            ) from None


class _Replay:
    """The parser's side of a loader, handing out events already parsed (and checked)."""

    def __init__(self, parsed: list[events.Event]) -> None:
        self._events = deque(parsed)

    def check_event(self, *choices: type[events.Event]) -> bool:
        if not self._events:
            return False
        return not choices or isinstance(self._events[0], choices)

    def peek_event(self) -> events.Event:
        return self._events[0]

    def get_event(self) -> events.Event:
        return self._events.popleft()

    def dispose(self) -> None:
        self._events.clear()


class _EventLoader(
    _Replay, yaml.composer.Composer, _StrictConstructor, yaml.resolver.Resolver
):  # fmt: skip
    """A safe loader fed with events: the text is scanned and parsed only once."""

    def __init__(self, parsed: list[events.Event]) -> None:
        _Replay.__init__(self, parsed)
        yaml.composer.Composer.__init__(self)
        _StrictConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


def _construct_mapping(loader: _StrictConstructor, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # keys merged in with ``<<`` may be overridden: that is what merging is for
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it as "found unhashable key"
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {show_value(key)} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


def _text_if_unbuildable(tag: str) -> Any:
    """A scalar constructor that falls back to the written text when the value cannot be built.

    ``start: 2024-13-45`` then reaches the scenario reader as the text it is, which
    reports it under ``start`` with what a date-time should look like.
    """
    build = yaml.constructor.SafeConstructor.yaml_constructors[tag]

    def construct(loader: _StrictConstructor, node: yaml.ScalarNode) -> Any:
        try:
            return build(loader, node)
        except (ValueError, OverflowError, LookupError, AttributeError):
            return loader.construct_scalar(node)

    return construct


_SCALARS = [f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "timestamp")]
_StrictConstructor.yaml_constructors = {
    **yaml.constructor.SafeConstructor.yaml_constructors,
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG: _construct_mapping,
    **{tag: _text_if_unbuildable(tag) for tag in _SCALARS},
}


def parse_checked(text: str) -> list[events.Event]:
    """The text's parser events; refuse a document too large, too deep or self-referring.

    Counts each alias as the size of the value it names, so nothing is built and
    the cost is linear in the text, however far the aliases would expand.
    """
    parsed: list[events.Event] = []
    sizes: dict[str, int] = {}  # anchor -> size of its value, aliases expanded
    open_anchors: set[str] = set()
    stack: list[list[Any]] = [[None, 0]]  # [anchor, size so far] per open collection

    def add(count: int, event: events.Event) -> None:
        stack[-1][1] += count
        if stack[-1][1] > MAX_VALUES:
            raise _refused(
                f"more than {MAX_VALUES} values once aliases are expanded; "
                "a scenario needs a few hundred",
                event,
            )

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        parsed.append(event)
        if isinstance(event, events.CollectionStartEvent):
            if len(stack) > MAX_DEPTH:
                raise _refused(f"nested deeper than {MAX_DEPTH} levels", event)
            stack.append([event.anchor, 1])
            if event.anchor is not None:
                open_anchors.add(event.anchor)
        elif isinstance(event, events.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
                open_anchors.discard(anchor)
            add(size, event)
        elif isinstance(event, events.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            add(1, event)
        elif isinstance(event, events.AliasEvent):
            if event.anchor in open_anchors:
                raise _refused(f"alias *{event.anchor} refers to a value that contains it", event)
            add(sizes.get(event.anchor or "", 1), event)  # unknown anchor: the composer says so
    return parsed


def _refused(problem: str, event: events.Event) -> RefusedDocument:
    return RefusedDocument(None, None, problem, cast("yaml.error.Mark", event.start_mark))


def load(text: str) -> Any:
    """Parse one YAML document into plain data; raise :class:`yaml.YAMLError` on any failure."""
    loader = _EventLoader(parse_checked(text))
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
