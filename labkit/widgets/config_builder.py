"""ConfigBuilder: a form that writes ``agentup.yml`` and validates it live (paths and fixes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from dotenv import dotenv_values

from .._yaml import parse_yaml
from ..config import SecurityConfig, validate_security_config
from ..errors import ConfigError
from ._render import html_list, html_pre, html_text, show_with_fallback

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["ConfigBuilder", "ConfigBuilderState"]


@dataclass
class ConfigBuilderState:
    """The form's fields, the YAML they make, and the validation verdict."""

    validation_strategy: str = "jwt"
    jwks_url: str = "${LAB_PROVIDER_URL}/jwks"
    jwt_secret: str = ""
    jwt_algorithms: str = "RS256"
    jwt_issuer: str = "${LAB_PROVIDER_URL}"
    jwt_audience: str = "api://oauth2-lab-agent"
    introspection_endpoint: str = ""
    client_id: str = ""
    client_secret: str = ""
    required_scopes: str = ""
    hierarchy: str = "admin: ['*']\napi:write: [api:read]\nfiles:write: [files:read]\n"
    env: str = ""  # KEY=value lines, like a .env file
    errors: list[tuple[str, str]] = field(default_factory=list)
    config: SecurityConfig | None = None

    def document(self) -> dict[str, Any]:
        """The configuration as a mapping (empty fields left out)."""
        oauth2: dict[str, Any] = {"validation_strategy": self.validation_strategy}
        for key in ("jwks_url", "jwt_secret", "jwt_issuer", "jwt_audience", "introspection_endpoint", "client_id",
                    "client_secret"):
            value = getattr(self, key).strip()
            if value:
                oauth2[key] = value
        algorithms = self.jwt_algorithms.replace(",", " ").split()
        if algorithms and self.validation_strategy != "introspection":
            oauth2["jwt_algorithms"] = algorithms
        if self.required_scopes.split():
            oauth2["required_scopes"] = self.required_scopes.split()
        security: dict[str, Any] = {"enabled": True, "type": "oauth2", "oauth2": oauth2}
        hierarchy, problems = self._hierarchy()
        security["scope_hierarchy"] = {"<invalid YAML>": []} if problems else hierarchy
        return {"security": security}

    def _hierarchy(self) -> tuple[Any, list[tuple[str, str]]]:
        # The same bounded parser as load_config: the text box is a file from anywhere too.
        hierarchy, problems = parse_yaml(self.hierarchy, "scope_hierarchy")
        return hierarchy or {}, problems

    def yaml(self) -> str:
        """The ``agentup.yml`` text (secrets are shown as written: use ``${VAR}`` for them)."""
        return yaml.safe_dump(self.document(), sort_keys=False, default_flow_style=None)

    def validate(self, base_env: dict[str, str] | None = None) -> bool:
        """Validate with ``env`` lines substituted; fills ``errors`` (path, message) or ``config``."""
        env = {**(base_env or {}), **{k: v for k, v in _env_lines(self.env).items() if v is not None}}
        problems = self._hierarchy()[1]
        if problems:
            self.config, self.errors = None, problems
            return False
        try:
            self.config = validate_security_config(self.document(), env=env)
            self.errors = []
        except ConfigError as exc:
            self.config = None
            self.errors = list(exc.errors)
        return self.config is not None


def _env_lines(text: str) -> dict[str, str | None]:
    import io

    return dict(dotenv_values(stream=io.StringIO(text)))


class ConfigBuilder:
    """The widget: fields, live YAML and errors, and "Load into lab" for a running ``Lab``."""

    FIELDS = ("validation_strategy", "jwks_url", "jwt_secret", "jwt_algorithms", "jwt_issuer", "jwt_audience",
              "introspection_endpoint", "client_id", "client_secret", "required_scopes")

    def __init__(self, lab: Lab | None = None, **initial: str) -> None:
        import ipywidgets as w

        self.lab = lab
        self.state = ConfigBuilderState()
        for name, value in initial.items():
            if name not in (*self.FIELDS, "hierarchy", "env"):
                raise TypeError(f"unknown field {name!r}")
            setattr(self.state, name, value)
        self.inputs: dict[str, Any] = {}
        for name in self.FIELDS:
            if name == "validation_strategy":
                widget = w.Dropdown(options=["jwt", "introspection", "both"], value=self.state.validation_strategy,
                                    description=name)
            elif "secret" in name:
                widget = w.Password(value=getattr(self.state, name), description=name)
            else:
                widget = w.Text(value=getattr(self.state, name), description=name)
            widget.style.description_width = "160px"
            widget.layout = w.Layout(width="460px")  # fixed width: long URLs scroll inside, the form keeps its shape
            widget.observe(lambda _: self.refresh(), names="value")
            self.inputs[name] = widget
        self.hierarchy = w.Textarea(value=self.state.hierarchy, description="scope_hierarchy",
                                    layout=w.Layout(height="100px", width="460px"))
        self.env = w.Textarea(value=self.state.env, description=".env lines",
                              layout=w.Layout(height="60px", width="460px"))
        for area in (self.hierarchy, self.env):
            area.observe(lambda _: self.refresh(), names="value")
        self.load = w.Button(description="Load into lab", button_style="success", disabled=lab is None)
        self.load.on_click(lambda _: self.load_into_lab())
        self.out = w.Output(layout=w.Layout(width="520px", overflow="auto"))
        self.message = w.HTML(layout=w.Layout(width="460px"))
        self.view = w.HBox([w.VBox([*self.inputs.values(), self.hierarchy, self.env, self.load, self.message]),
                            self.out])
        self.refresh()

    def set(self, **values: str) -> None:
        """Drive the form from code."""
        for name, value in values.items():
            if name == "hierarchy":
                self.hierarchy.value = value
            elif name == "env":
                self.env.value = value
            else:
                self.inputs[name].value = value
        self.refresh()

    def refresh(self) -> None:
        """Read the form, validate, show YAML and errors."""
        from IPython.display import HTML

        for name, widget in self.inputs.items():
            setattr(self.state, name, widget.value)
        self.state.hierarchy = self.hierarchy.value
        self.state.env = self.env.value
        base = {"LAB_PROVIDER_URL": self.lab.provider_url} if self.lab is not None else {"LAB_PROVIDER_URL": "http://127.0.0.1"}
        valid = self.state.validate(base)
        self.out.outputs = ()
        self.out.append_display_data(HTML(html_pre(self.state.yaml())))
        if valid:
            self.out.append_display_data(HTML(html_text("valid", color="#070")))
        else:
            errors = [(path or "<root>", message) for path, message in self.state.errors]
            self.out.append_display_data(HTML(html_list(f"{len(errors)} error(s)", errors)))

    def load_into_lab(self) -> bool:
        """Restart the lab's agent with this configuration (only when valid)."""
        if self.lab is None or not self.lab.running:
            self.message.value = "the lab is stopped: nothing to load into (start it with lab.start() or Lab())"
            return False
        if self.state.config is None:
            self.message.value = "fix the errors first"
            return False
        try:
            self.lab.reload(self.state.config)
        except (ConfigError, RuntimeError, OSError) as exc:  # shown in the widget; the old agent keeps running
            self.message.value = html_text(str(exc).splitlines()[0], color="#a00", bold="not loaded:")
            return False
        self.message.value = "loaded: the agent now runs this configuration"
        return True

    def _ipython_display_(self) -> None:
        show_with_fallback(self.view, self.out, "ConfigBuilder: write agentup.yml, validate it live, load it")
