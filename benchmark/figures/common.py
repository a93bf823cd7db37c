"""What every figure shares: the file-only backend, PNG bytes, colours and short tick labels."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

DPI = 100  # pixels per inch of the PNGs embedded in the report


def to_png(fig: Figure, tight: bool = True) -> bytes:
    """The figure as PNG bytes; the figure is closed.

    `tight` (the report's figures) crops to the drawing at DPI; without it the figure is saved
    as matplotlib saves it by default, as the artifacts of a run always were.
    """
    buffer = io.BytesIO()
    if tight:  # a tight box keeps titles and axis labels of square panels inside the image
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    else:
        fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def colors_for(count: int) -> list:
    """One distinct colour per line or point."""
    return sns.color_palette("tab10" if count <= 10 else "tab20", count)


def compact(value: float) -> str:
    """60k, 1.2M, 3.4T, 4.5: short tick labels."""
    for size, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"
