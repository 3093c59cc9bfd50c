"""Claims path pointers (OpenID4VP 1.0 section 7): what a DCQL claims query points at.

A pointer is a non-empty array of strings (object keys), null (every element of an array)
and non-negative integers (one element). Into an mdoc it is exactly [namespace, element].
Processing never raises on hostile credentials: a pointer that selects nothing, or walks
into a value of the wrong kind, simply selects nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: A pointer as the query gives it: None is the array wildcard.
ClaimPath = tuple[str | int | None, ...]
#: A path to one concrete claim in a presented credential (no wildcards).
ConcretePath = tuple[str | int, ...]


def is_path_component(value: object) -> bool:
    """A string, null, or a non-negative integer (booleans are not integers here)."""
    if value is None or isinstance(value, str):
        return True
    return type(value) is int and value >= 0


def select(claims: Mapping[str, Any], path: ClaimPath) -> list[Any]:
    """The JSON elements `path` selects (section 7.1.1); empty when processing errs.

    Steps 2.1 to 2.4: a key is looked up in objects, null and an index in arrays; a
    component of the wrong kind for the element it meets aborts with nothing selected.
    """
    selected: list[Any] = [claims]
    for component in path:
        following: list[Any] = []
        for element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return []
                if component in element:
                    following.append(element[component])
            elif component is None:
                if not isinstance(element, list):
                    return []
                following.extend(element)
            else:
                if not isinstance(element, list):
                    return []
                if component < len(element):
                    following.append(element[component])
        selected = following
        if not selected:
            return []
    return selected


def select_mdoc(namespaces: Mapping[str, Mapping[str, Any]], path: ClaimPath) -> list[Any]:
    """The data element `[namespace, identifier]` selects (section 7.2.1), or nothing."""
    if len(path) != 2:
        return []
    namespace, identifier = path
    if not isinstance(namespace, str) or not isinstance(identifier, str):
        return []
    elements = namespaces.get(namespace)
    if not isinstance(elements, Mapping) or identifier not in elements:
        return []
    return [elements[identifier]]


def covers(pointer: ClaimPath, claim: ConcretePath) -> bool:
    """Whether revealing `claim` is part of revealing what `pointer` selects.

    True when one is a prefix of the other, component by component (null matches any
    index): the ancestors on the way to a requested claim (`address` for
    `address.street_address`) and everything inside a requested claim (`address.locality`
    for `address`) are disclosed with it.
    """
    for wanted, given in zip(pointer, claim, strict=False):
        if wanted is None:
            if type(given) is not int:
                return False
        elif type(wanted) is not type(given) or wanted != given:
            return False
    return True


def same_value(claim: Any, allowed: Sequence[str | int | bool]) -> bool:
    """Section 6.3 `values`: type and value both match one of `allowed` exactly."""
    return any(type(claim) is type(value) and claim == value for value in allowed)


def shown(path: Sequence[Any]) -> str:
    """A pointer for error messages, shortened: it may come from a wallet."""
    text = "[" + ", ".join("null" if part is None else repr(part) for part in path[:8]) + "]"
    return text if len(text) <= 160 else text[:157] + "..."
