"""The explorer's front end, installed on this machine so the page needs no internet.

Solara serves its browser code (Vue, Vuetify, RequireJS, Font Awesome) from a CDN and caches what
it fetched in ``<prefix>/share/solara/cdn/<name>@<version>/`` (its "proxy cache"). Many government
networks reach no CDN, and a page whose assets fail stays blank. ``install()`` fills that cache
once, at set-up (``make explore``), from the npm registry or from tarballs a user carried in
(``--from DIR``), and checks each tarball against the sha512 the registry publishes for it, pinned
below for the versions this Solara asks for. ``missing()`` is what ``simmodel explore`` checks
before it starts: it refuses to serve a page that would try the CDN.

    python -m simmodel.explorer.assets            # download (about 5 MB) and unpack
    python -m simmodel.explorer.assets --from DIR # offline: DIR holds the .tgz files named below
    python -m simmodel.explorer.assets --check    # exit 1 and list what is missing
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

from simmodel.errors import SimmodelError

REGISTRY = "https://registry.npmjs.org"
# sha512 of each npm tarball, as the registry's `dist.integrity` gives it (read 2 December 2026).
# A version Solara asks for that is not here is checked against the registry's own record instead.
PINNED = {
    "@widgetti/solara-vuetify3-app@5.2.0":
        "sha512-9UMyjf9KASR9PucZ7848upx1gqOqlUnG5Hh5or5CTaN/Um+AxAHQGwv8x4fFJzco/OaccsWdtsqb3bmYAnBo+Q==",
    "requirejs@2.3.6":
        "sha512-ipEzlWQe6RK3jkzikgCupiTbTvm4S0/CAU5GlgptkN5SO6F3u0UD0K18wy6ErDqiCyP4J4YYe1HuAShvsxePLg==",
    "font-awesome@4.5.0":
        "sha512-XGGY8CN/NT8e5fKOC/K7CESNQ3+2oYOfZqwZcKgEMtcmTiHtFIH+XZWRoU0HtcdwhtSkpWXLfTIUlTdJ4PhX8A==",
}
# every file a package must hold for the page to load (the rest of a package is optional)
_CDN_REF = re.compile(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@\d[\w.-]*)/([^\"'\s]+)")


def cache_dir() -> Path:
    """Solara's proxy cache, where the server looks before it tries the CDN."""
    import solara.server.settings as settings

    return Path(settings.assets.proxy_cache_dir)


def required() -> dict[str, list[str]]:
    """``name@version`` -> the files of it the page template loads, read from the installed Solara
    (so a Solara upgrade that asks for other versions is seen, not silently served from the CDN)."""
    import solara.server.settings as settings
    import solara.server.templates

    template = Path(solara.server.templates.__path__[0]) / "solara.html.j2"
    out: dict[str, list[str]] = {}
    for pkg, rel in _CDN_REF.findall(template.read_text(encoding="utf-8")):
        rel = rel.replace("{{ipywidget_major_version}}", "8")
        out.setdefault(pkg, [])
        if "{{" not in rel and rel not in out[pkg]:
            out[pkg].append(rel)
    if settings.assets.fontawesome_enabled:
        pkg, rel = settings.assets.fontawesome_path.lstrip("/").split("/", 1)
        out.setdefault(pkg, []).append(rel)
    return out


def missing(root: Path | None = None) -> list[str]:
    """The ``name@version/file`` paths the page needs that the cache lacks (empty: ready)."""
    root = root or cache_dir()
    return [f"{pkg}/{rel}" for pkg, rels in required().items() for rel in rels if not (root / pkg / rel).is_file()]


def not_installed() -> str | None:
    """What to tell a user whose machine lacks the front end (what is missing and how to install it),
    or None when it is ready."""
    left = missing()
    if not left:
        return None
    return ("the explorer's front end is not installed on this machine (it would otherwise be fetched from "
            "a CDN); run `make explore` or `python -m simmodel.explorer.assets` (offline: --from DIR); "
            f"missing: {', '.join(left[:3])}{' ...' if len(left) > 3 else ''}")


def _tarball_name(pkg: str) -> str:
    name, version = pkg.rsplit("@", 1)
    return f"{name.split('/')[-1]}-{version}.tgz"


def _integrity(pkg: str) -> str:
    if pkg in PINNED:
        return PINNED[pkg]
    name, version = pkg.rsplit("@", 1)
    import json

    with urllib.request.urlopen(f"{REGISTRY}/{name}/{version}", timeout=30) as r:
        return json.load(r)["dist"]["integrity"]


def _check_integrity(pkg: str, data: bytes, expected: str) -> None:
    algo, digest = expected.split("-", 1)
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != digest:
        raise SimmodelError(f"{_tarball_name(pkg)}: its {algo} does not match the npm registry's record for {pkg}; "
                            "the file is corrupt or not the published package; fetch it again")


def _unpack(pkg: str, data: bytes, root: Path) -> None:
    """Unpack an npm tarball (files under ``package/``) into root/pkg, refusing any member that
    would land outside it; written beside and renamed, so a folder is there only when complete."""
    dest = root / pkg
    tmp = dest.with_name(dest.name + ".partial")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            parts = Path(m.name).parts[1:]  # drop the leading "package/"
            if not parts or ".." in parts or Path(m.name).is_absolute():
                raise SimmodelError(f"{_tarball_name(pkg)}: member {m.name!r} would unpack outside its folder; refused")
            target = tmp.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(m).read())
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def install(from_dir: Path | None = None, root: Path | None = None, echo=print) -> list[str]:
    """Put every package the page needs into Solara's cache; returns the packages installed.
    from_dir: a folder holding the npm tarballs (offline install); otherwise the npm registry."""
    root = root or cache_dir()
    todo = [p for p in required() if any(m.startswith(p + "/") for m in missing(root))]
    for pkg in todo:
        fname = _tarball_name(pkg)
        if from_dir is not None:
            path = Path(from_dir) / fname
            if not path.is_file():
                raise SimmodelError(f"{path} not found: the offline install needs {', '.join(_tarball_name(p) for p in todo)} "
                                    f"in {from_dir} (npm pack {' '.join(todo)})")
            data = path.read_bytes()
        else:
            name, _ = pkg.rsplit("@", 1)
            url = f"{REGISTRY}/{name}/-/{fname}"
            echo(f"explorer assets: fetching {url}")
            try:
                with urllib.request.urlopen(url, timeout=60) as r:
                    data = r.read()
            except OSError as exc:
                raise SimmodelError(f"could not download {url} ({exc}); without internet, copy {fname} here and run "
                                    f"`python -m simmodel.explorer.assets --from DIR`") from None
        _check_integrity(pkg, data, _integrity(pkg))
        _unpack(pkg, data, root)
        echo(f"explorer assets: {pkg} -> {root / pkg}")
    left = missing(root)
    if left:
        raise SimmodelError(f"after installing, the page still lacks {', '.join(left)}")
    return todo


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m simmodel.explorer.assets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="from_dir", type=Path, help="folder with the npm tarballs (offline install)")
    ap.add_argument("--check", action="store_true", help="list what is missing; exit 1 if anything is")
    a = ap.parse_args(argv)
    try:
        if a.check:
            left = missing()
            print("explorer assets: complete" if not left else "explorer assets missing:\n  " + "\n  ".join(left))
            sys.exit(1 if left else 0)
        done = install(a.from_dir)
        print(f"explorer assets: ready in {cache_dir()}" + ("" if done else " (already there)"))
    except SimmodelError as exc:
        print(f"simmodel: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
