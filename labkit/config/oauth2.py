"""One ``oauth2`` block: validated into ``OAuth2Config``, then checked concern by concern.

When the block's structure is wrong somewhere, the rest is still checked, so every problem is listed at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .dpop import check_dpop
from .introspection import check_introspection
from .keys import check_algorithms, check_inline_jwks
from .messages import validate_model
from .models import STRATEGIES, OAuth2Config, as_tuple
from .problems import Place, Problems, did_you_mean, join, type_name
from .scope_names import check_hierarchy, check_oauth2_scopes, check_scope_names
from .urls import REGISTRATION, check_oauth2_urls

__all__ = ["build_oauth2", "check_oauth2"]


def build_oauth2(raw: Any, place: Place, hierarchy_at: str | None = None) -> OAuth2Config | None:
    """Validate one oauth2 block; problems about a hierarchy moved into it name ``hierarchy_at``."""
    problems = place.problems
    mark = problems.mark()
    model = _build(raw, place)
    if hierarchy_at:
        moved = join(place.path, "scope_hierarchy")
        problems.relocate(mark, lambda path: hierarchy_at + path[len(moved):] if path.startswith(moved) else path)
    return model


def _build(raw: Any, place: Place) -> OAuth2Config | None:
    if not isinstance(raw, Mapping):
        place.add(f"expected a mapping, got {type_name(raw)}")
        return None
    block = dict(raw)
    if block.get("scope_hierarchy") is None and "scope_hierarchy" in block:
        block["scope_hierarchy"] = {}
    hierarchy = block.get("scope_hierarchy")
    if isinstance(hierarchy, Mapping):
        block["scope_hierarchy"] = {k: ([] if v is None else v) for k, v in hierarchy.items()}
    problems = place.problems
    mark = problems.mark()
    strategy = _written_strategy(block, place)
    model = validate_model(OAuth2Config, block, place)
    if model is not None and strategy is not None:
        check_oauth2(model, place, strategy)
        return model if problems.mark() == mark else None
    # Structure is wrong somewhere: check the rest anyway, so that every problem is listed at once.
    prefix = place.path + "."
    bad = {path[len(prefix):].split(".")[0].split("[")[0] for path, _ in problems.since(mark)
           if path.startswith(prefix)}
    partial = validate_model(OAuth2Config, {k: v for k, v in block.items() if k not in bad}, Problems().at(place.path))
    if partial is not None:
        semantic = Problems()
        check_oauth2(partial, semantic.at(place.path), partial.validation_strategy if strategy is None else strategy)
        for path, message in semantic:
            if not any(path.startswith(join(place.path, key)) for key in bad):
                problems.add(path, message)
    return None


def _written_strategy(block: dict[str, Any], place: Place) -> str | None:
    """The strategy as written (the model holds only valid ones): None when it is not a string at all."""
    strategy: object = block.get("validation_strategy", "jwt")
    if not isinstance(strategy, str):
        place.at("validation_strategy").add("expected a string")
        del block["validation_strategy"]
        return None
    if strategy not in STRATEGIES:
        del block["validation_strategy"]  # reported by check_oauth2, with the others
    return strategy


def check_oauth2(oauth2: OAuth2Config, place: Place, strategy: str) -> None:
    """Every semantic check of an oauth2 block whose structure is valid (``strategy``: as written)."""
    if strategy not in STRATEGIES:
        place.at("validation_strategy").add(f"{strategy!r} is not a strategy; use one of jwt, introspection, both"
                                            + did_you_mean(strategy, STRATEGIES))
    check_algorithms(oauth2, place, uses_jwt=strategy in ("jwt", "both"))
    check_oauth2_urls(oauth2, place, ("jwks_url",))
    if oauth2.jwks is not None:
        check_inline_jwks(oauth2.jwks, place.at("jwks"))
    check_oauth2_urls(oauth2, place, ("introspection_endpoint", *REGISTRATION))
    check_scope_names(oauth2.scopes, place.at("scopes"), rule="RFC 6749 §3.3: no spaces or quotes")
    if strategy in ("introspection", "both"):
        check_introspection(oauth2, place, strategy)
    for key in ("jwt_issuer", "jwt_audience"):
        written = getattr(oauth2, key)
        for i, value in enumerate(as_tuple(written)):
            if not value:
                (place.at(key) if isinstance(written, str) else place.at(key).item(i)).add("empty value")
    check_oauth2_scopes(oauth2, place)
    for i, claim in enumerate(oauth2.scope_claims):
        if not claim:
            place.at("scope_claims").item(i).add("empty claim name")
    check_hierarchy(oauth2.scope_hierarchy, place.at("scope_hierarchy"))
    check_dpop(oauth2, place)
