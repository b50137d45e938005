"""ipywidgets UIs for the lessons. Each keeps its state in a plain object that code can drive and read.

``html_text`` and ``show_with_fallback`` draw for widgets made elsewhere (the challenge card, in
``labkit.challenges``): widgets import no lesson content.
"""

from __future__ import annotations

from ._render import html_text, show_with_fallback
from .audit_viewer import AuditViewer, AuditViewerState
from .config_builder import ConfigBuilder, ConfigBuilderState
from .endpoint_tester import EndpointTester, EndpointTesterState
from .scope_explorer import ScopeExplorer, ScopeExplorerState
from .token_minter import TokenMinter, TokenMinterState

__all__ = [
    "AuditViewer",
    "AuditViewerState",
    "ConfigBuilder",
    "ConfigBuilderState",
    "EndpointTester",
    "EndpointTesterState",
    "ScopeExplorer",
    "ScopeExplorerState",
    "TokenMinter",
    "TokenMinterState",
    "html_text",
    "show_with_fallback",
]
