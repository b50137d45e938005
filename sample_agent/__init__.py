"""The sample AgentUp-style agent: A2A, MCP, agent card and metadata, all protected by labkit."""

from __future__ import annotations

from .agent import Agent
from .app import AgentApp, create_app, default_config_path

__all__ = ["Agent", "AgentApp", "create_app", "default_config_path"]
