"""What each call needs: ``Requirement``, capabilities, and the endpoint table an app hands the guard.

The core knows no protocol's method names. An app supplies them: a JSON-RPC method table (scopes, or
``PluginScopes(id)`` for that plugin's scopes), parameters whose presence has the effect of a guarded method
(``effects``), and an ``Endpoint`` per route name. A route the app does not declare is protected with no
extra scope (deny by default); only ``Endpoint(public=True)`` routes pass without a token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..scopes import EffectiveScopes
from .jsonrpc import RpcCall

__all__ = ["Capability", "Effect", "Endpoint", "EndpointPolicy", "MethodRule", "PluginScopes", "Requirement",
           "normalized_key"]


@dataclass(frozen=True)
class Capability:
    """A plugin capability and the scopes it needs (plugin scopes plus its own)."""

    capability_id: str
    plugin_id: str
    scopes: tuple[str, ...]
    fresh: bool = False  # oauth2_specific.introspection_required
    tool: str | None = None  # its MCP tool name


@dataclass(frozen=True)
class Requirement:
    """What one call needs: scopes (all of them, after hierarchy expansion), and where it came from."""

    scopes: tuple[str, ...] = ()
    label: str = ""
    plugin: str | None = None
    capability: str | None = None
    fresh: bool = False
    invalid: str | None = None  # a reason to refuse the call as malformed (400 invalid_request)

    def plus(self, scopes: Sequence[str]) -> Requirement:
        """This requirement with ``scopes`` added (order kept, no repeats)."""
        return Requirement(tuple(dict.fromkeys([*self.scopes, *scopes])), self.label, self.plugin, self.capability,
                           self.fresh, self.invalid)


@dataclass(frozen=True)
class Effect:
    """A parameter whose presence has the effect of a guarded method: ``path`` inside ``params`` needs ``scopes``.

    Keys match as the SDKs read them: protobuf's ``ParseDict`` and pydantic aliases take both
    ``pushNotificationConfig`` and ``push_notification_config``, so keys compare case- and underscore-blind.
    """

    path: tuple[str, ...]
    scopes: tuple[str, ...]

    def present(self, params: Any) -> bool:
        """True when ``params`` carries a non-empty value at ``path``."""
        nodes = [params]
        for key in self.path:
            wanted = normalized_key(key)
            nodes = [v for node in nodes if isinstance(node, dict)
                     for k, v in node.items() if normalized_key(k) == wanted]
        return any(node not in (None, {}, [], "") for node in nodes)


def normalized_key(key: str) -> str:
    """A member name as loosely as any SDK might read it."""
    return key.replace("_", "").replace("-", "").lower()


@dataclass(frozen=True)
class PluginScopes:
    """A method rule meaning "the scopes of plugin ``plugin_id``", written ``plugin:<id>`` (``str``, ``parse``).

    Raises ``ValueError`` for an empty id or one holding ``:``.
    """

    plugin_id: str

    PREFIX: ClassVar[str] = "plugin:"

    def __post_init__(self) -> None:
        if not isinstance(self.plugin_id, str) or not self.plugin_id or ":" in self.plugin_id:
            raise ValueError(f"a plugin id is a non-empty name without ':', not {self.plugin_id!r}")

    @classmethod
    def parse(cls, text: str) -> PluginScopes:
        """``plugin:<id>`` read back; raises ``ValueError`` for any other text."""
        if not text.startswith(cls.PREFIX):
            raise ValueError(f"a plugin rule is written {cls.PREFIX}<id>, not {text!r}")
        return cls(text.removeprefix(cls.PREFIX))

    def __str__(self) -> str:
        return f"{self.PREFIX}{self.plugin_id}"


MethodRule = tuple[str, ...] | PluginScopes | None
_MADE_MAX = 1024


@dataclass
class EndpointPolicy:
    """Capabilities, plugin scopes and an app's JSON-RPC method table: what a call needs.

    ``method_scopes`` values: a scope tuple, ``PluginScopes(id)`` (that plugin's scopes) or None (a valid token).
    ``effects``: per method, parameters that need more scopes when present. Raises ``TypeError`` for a rule of
    another type (a bare string would read as one scope per character).
    """

    capabilities: dict[str, Capability]
    plugin_scopes: dict[str, tuple[str, ...]]
    method_scopes: Mapping[str, MethodRule] = field(default_factory=dict)
    effects: Mapping[str, Sequence[Effect]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for method, rule in self.method_scopes.items():
            if not (rule is None or isinstance(rule, PluginScopes | tuple)):
                raise TypeError(f"method_scopes[{method!r}]: a tuple of scopes, PluginScopes(id) or None, "
                                f"not {type(rule).__name__}")
        self.tools = {c.tool: c for c in self.capabilities.values() if c.tool}
        # Requirements already made, by method (of the table) or label, with what each was made from: a hit is
        # used only while those inputs are the very same objects (the tables may change: nothing goes stale).
        # Keys come from the app's tables, never from a request alone: bounded.
        self._by_method: dict[str | None, tuple[MethodRule, tuple[str, ...], Requirement]] = {}
        self._by_label: dict[str, tuple[Capability, Requirement]] = {}

    def for_method(self, method: str | None, params: Any) -> Requirement:
        """The requirement of a JSON-RPC call by its method table and effects (unknown methods: a valid token)."""
        name = method or ""
        need = self.method_scopes.get(name)
        if isinstance(need, PluginScopes):
            plugin: str | None = need.plugin_id
            scopes = self.plugin_scopes.get(need.plugin_id, ())
        else:
            plugin, scopes = None, need or ()
        made = self._by_method.get(method)
        if made is not None and made[0] is need and made[1] is scopes:
            requirement = made[2]
        else:
            requirement = (Requirement(scopes, str(method), plugin=plugin) if plugin is not None
                           else Requirement(scopes, str(method or "")))
            if method in self.method_scopes:
                self._by_method[method] = (need, scopes, requirement)
        for effect in self.effects.get(name, ()):
            if effect.present(params):
                requirement = requirement.plus(effect.scopes)
        return requirement

    def for_capability(self, capability: Capability, label: str) -> Requirement:
        """The requirement of running ``capability`` (remembered per label while ``capability`` is the same)."""
        made = self._by_label.get(label)
        if made is not None and made[0] is capability:
            return made[1]
        requirement = Requirement(capability.scopes, label, capability.plugin_id, capability.capability_id,
                                  capability.fresh)
        if len(self._by_label) >= _MADE_MAX:
            self._by_label.clear()  # labels are the app's (one or two per capability); a caller's own stay bounded
        self._by_label[label] = (capability, requirement)
        return requirement

    def allowed(self, effective: EffectiveScopes) -> list[Capability]:
        """The capabilities a grant may use."""
        return [c for c in self.capabilities.values() if all(effective.covers(s) for s in c.scopes)]


@dataclass(frozen=True)
class Endpoint:
    """How the guard treats one route (by route name).

    ``public``: no token needed. ``rpc``: POST bodies are JSON-RPC and ``rpc(call, tenant)`` gives the requirement.
    ``requirement``: what any other request to the route needs. ``metadata``: the RFC 9728 metadata URL
    for a tenant, sent in challenges. ``malformed_status``: the HTTP status of the guard's answer to a malformed
    JSON-RPC body (-32700, -32600), the one the SDK behind the route gives (the a2a-sdk: 200; MCP: 400).
    """

    label: str
    public: bool = False
    rpc: Callable[[RpcCall, str | None], Requirement] | None = None
    requirement: Requirement = field(default_factory=Requirement)
    metadata: Callable[[str | None], str] | None = None
    malformed_status: int = 400
