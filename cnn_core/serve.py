"""Starting the dashboard: `python -m cnn_core.serve [options of streamlit run]` is
`streamlit run app.py` with the server's warm-up (cnn_core.warmup) begun before the first visitor
arrives, so that even a first visit to a page that needs torch does not wait for its import.
Plain `streamlit run app.py` works too; its warm-up then begins with the first visit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnn_core.warmup import import_in_background

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> None:
    import_in_background()
    from streamlit.web import cli  # Streamlit's own command line, given `run app.py` and the options

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
