"""A guard for values in a page's link that Streamlit 1.67 cannot ignore by itself.

A kept number widget (bind="query-params") is seeded from the link with int(float(text)), which
raises OverflowError on an infinite value ('1e999', 5,000 nines) instead of ignoring the value, and
the page would end in a traceback. _widgets.link_values drops such values before any widget reads
them; the page's notice (notice_ignored_link_values) then lists them as ignored.
"""

import math

from streamlit.runtime.scriptrunner import get_script_run_ctx


def unusable_number(text: str) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return not math.isfinite(number) or abs(number) > 2**53


def drop_unusable_numbers(keys: list[str]) -> None:
    """Streamlit 1.67 seeds a kept number widget from the link with int(float(text)), which raises
    on an infinite value ('1e999', 5,000 nines) instead of ignoring it: such values leave the link
    and the values Streamlit seeds from, before any widget reads them (then noticed as ignored)."""
    ctx = get_script_run_ctx()
    if not keys or ctx is None:
        return
    with ctx.session_state.query_params() as params:
        for key in keys:
            params._initial_query_params.pop(key, None)  # private in 1.67: no public way to drop one
            if key in params and not params.is_bound(key):
                del params[key]
