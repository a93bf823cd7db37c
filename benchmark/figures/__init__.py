"""Every figure the tool draws (matplotlib, seaborn, Optuna's), as PNG bytes for others to keep.

Imports: training.

Callers draw here and hand the PNGs to `tracking` (which logs them) or to the report page; it
never imports tracking, report, tuning or cli.
"""

import matplotlib

matplotlib.use("Agg")  # files only, before any submodule loads pyplot: no display on servers
