"""Every figure the tool draws (matplotlib, seaborn, Optuna's), as PNG bytes for others to keep.

Imports: data, training, results (types and tables only); never tracking, report, tuning or cli.
Callers draw here and hand the PNGs to `tracking` (which logs them) or to the report page.
"""

import matplotlib

matplotlib.use("Agg")  # files only, before any submodule loads pyplot: no display on servers
