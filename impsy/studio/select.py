"""Which studio trains: a name (``local``, ``ray``) and an address, to a studio object.

The command line's ``--studio``/``--studio-address`` win over a config's
``[studio]`` section, which wins over the default (``local``). Importing
this module imports no Ray: the Ray studio's module is loaded only when
it is the one chosen.
"""

from __future__ import annotations

from typing import Any

from impsy.errors import ImpsyError

BACKENDS = ("local", "ray")


def make_studio(backend: str, address: str | None = None) -> Any:
    """A studio with ``train(job, performances, report)`` and ``sweep(...)``."""
    if backend == "local":
        from impsy.studio.local import LocalStudio

        return LocalStudio()
    if backend == "ray":
        from impsy.studio.ray_studio import RayStudio

        return RayStudio(address)
    raise ImpsyError(f"unknown studio {backend!r}; expected one of {', '.join(BACKENDS)}")


def studio_choice(
    backend: str | None, address: str | None, config: Any = None
) -> tuple[str, str | None]:
    """``(backend, address)``: the command line's where given, else the config's
    ``[studio]`` (``config.studio``, may be None), else local."""
    section = getattr(config, "studio", None) if config is not None else None
    chosen = backend or (section.backend if section is not None else "local")
    where = address if address is not None else (section.address if section else None)
    return chosen, where
