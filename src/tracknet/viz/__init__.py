"""Event displays: matplotlib PNG for the straw tracker (:mod:`tracknet.viz.straw`).

Submodules are imported on use, so importing :mod:`tracknet.viz` loads no plotting
library.

See ``docs/model.md`` (Event displays).
"""

from __future__ import annotations

__all__: list[str] = []
