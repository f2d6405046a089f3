"""A CJK font for Chinese labels: matplotlib ships none, so Chinese text would come out as boxes.

Looked for in this order: a Noto Sans CJK SC (or another Simplified Chinese face) already known to
matplotlib, e.g. from Debian's fonts-noto-cjk; then the Noto Sans CJK file that the PyPI package
cvttf-notosanscjk-regular installs (a dependency of simmodel, so `make` always provides one; its
face is the Traditional-Chinese-region one, which holds every Simplified character but draws a few
shared characters in Taiwan forms).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from simmodel.errors import SimmodelError

PREFERRED = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Noto Sans CJK TC")
PYPI_FONT = ("cvttf_NotoSansCJK_Regular", "NotoSansCJKtc-Regular.otf")


@lru_cache(maxsize=1)
def cjk_family() -> str:
    """The family name of a CJK font registered with matplotlib; raises SimmodelError if none."""
    from matplotlib import font_manager as fm

    known = {f.name for f in fm.fontManager.ttflist}
    for name in PREFERRED[:-1]:
        if name in known:
            return name
    spec = importlib.util.find_spec(PYPI_FONT[0])
    if spec is not None and spec.origin:
        path = Path(spec.origin).with_name(PYPI_FONT[1])
        if path.is_file():
            fm.fontManager.addfont(str(path))
            return fm.FontProperties(fname=str(path)).get_name()
    raise SimmodelError("no Chinese font found for memo.lang=zh / plot.lang=zh: install simmodel's dependencies "
                        "(pip install -e . brings cvttf-notosanscjk-regular) or Debian's fonts-noto-cjk")


def font_family(lang: str) -> list[str]:
    """matplotlib font.family list for a language: a CJK face first for zh (Latin text and digits
    are drawn by it too), DejaVu Sans as the fallback for anything it lacks."""
    return [cjk_family(), "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans"]


def cjk_font_file() -> Path | None:
    """The file of the CJK face in use (for @font-face in HTML given to a PDF converter)."""
    from matplotlib import font_manager as fm

    try:
        family = cjk_family()
    except SimmodelError:
        return None
    path = fm.findfont(fm.FontProperties(family=family), fallback_to_default=False)
    return Path(path) if path else None
