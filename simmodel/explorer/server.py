"""``simmodel explore``: check everything, print the address, serve the page with Solara.

The server is Solara's own (``solara run``, uvicorn underneath), started in this process's place
once the settings, the front end's local copy (simmodel/explorer/assets.py) and the emulator have
been checked, so that a mistake is one line and a non-zero exit, not a blank page.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys

from simmodel.errors import ConfigError
from simmodel.explorer import assets
from simmodel.explorer.config import ExploreConfig, check


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def server_env(cfg: ExploreConfig) -> dict[str, str]:
    """The environment of the Solara server: the page's settings, and nothing that calls out."""
    return dict(os.environ, SIMMODEL_EXPLORE=json.dumps(dataclasses.asdict(cfg)),
                # Solara reports usage to Mixpanel by default: a government network must see no such call
                SOLARA_TELEMETRY_MIXPANEL_ENABLE="False", SOLARA_THEME_SHOW_BANNER="False")


TRAIN_HINT = ("simmodel analyze method=emulator name=explorer screen=<a Morris analysis> population.scale={scale:g} "
              "replicates={reps} hydra/launcher=joblib (README: The explorer)")


def emulator_status(cfg: ExploreConfig) -> str:
    """One line on the instant preview: which emulator, how many of its outputs pass the error
    threshold, or why there is none and the command that trains one."""
    from pathlib import Path

    from simmodel.errors import SimmodelError

    hint = TRAIN_HINT.format(scale=cfg.population.scale, reps=cfg.replicates)
    if not cfg.emulator:
        return f"simmodel explore: no emulator (emulator=''): the page waits for the model; to train one: {hint}"
    from simmodel.analysis.emulator import load_emulator

    path = Path(cfg.emulator)
    path = path if path.is_dir() else Path(cfg.output_root) / "analyze" / cfg.emulator
    try:
        emu = load_emulator(path)
    except SimmodelError as exc:
        return f"simmodel explore: no emulator ({exc}); the page waits for the model; to train one: {hint}"
    ok = [k for k, v in emu.validation.items() if k.endswith("_p_met") and (v.get("constant") is not None or (
        v.get("rmse") is not None and v["rmse"] <= cfg.emulator_max_error))]
    n = sum(1 for k in emu.validation if k.endswith("_p_met"))
    return (f"simmodel explore: emulator {path}: {len(ok)} of {n} P(met) outputs within the held-out error "
            f"{cfg.emulator_max_error:g} (the others wait for the model)")


def serve(cfg: ExploreConfig, *, echo=print) -> None:
    """Check, print the address, and replace this process with the Solara server (never returns)."""
    check(cfg)
    from simmodel.explorer import state

    from simmodel.explorer.app import scenario_dir

    state.scenario_values(scenario_dir(), cfg.scenario)  # an unknown starting scenario fails here
    message = assets.not_installed()
    if message:
        raise ConfigError(message)
    port = cfg.port or free_port(cfg.host)
    if not port_free(cfg.host, port):
        raise ConfigError(f"port = {port}: another program listens there; choose another (port=0: any free port)")
    cfg = dataclasses.replace(cfg, port=port)
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    echo(emulator_status(cfg))
    os.environ.update(server_env(cfg))  # the page's settings, read by the page module's font cache below
    from simmodel.explorer import app

    app.settings.cache_clear()
    app.font_css()  # cut the CJK font now, once: the first page would otherwise wait for it
    echo(f"simmodel explore: http://{host}:{port}/  (runs at scale {cfg.population.scale:g} with {cfg.replicates} replicates "
         f"into {cfg.output_root}/explore/; Ctrl-C stops)")
    sys.stdout.flush()
    args = [sys.executable, "-m", "solara", "run", "simmodel.explorer.app", "--host", cfg.host, "--port", str(port),
            "--no-open", "--production", "--log-level", "warning", "--no-access-log"]
    os.execve(sys.executable, args, server_env(cfg))
