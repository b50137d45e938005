"""ipywidgets UIs for the lessons. Each keeps its state in a plain object that code can drive and read."""

from __future__ import annotations

from .audit_viewer import AuditViewer, AuditViewerState
from .challenge_card import ChallengeCard
from .config_builder import ConfigBuilder, ConfigBuilderState
from .endpoint_tester import EndpointTester, EndpointTesterState
from .scope_explorer import ScopeExplorer, ScopeExplorerState
from .token_minter import TokenMinter, TokenMinterState

__all__ = [
    "AuditViewer",
    "AuditViewerState",
    "ChallengeCard",
    "ConfigBuilder",
    "ConfigBuilderState",
    "EndpointTester",
    "EndpointTesterState",
    "ScopeExplorer",
    "ScopeExplorerState",
    "TokenMinter",
    "TokenMinterState",
]
