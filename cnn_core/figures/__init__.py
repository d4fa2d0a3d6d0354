"""Every Plotly figure of the product, built here so pages stay thin and figures can be tested."""


def panel_title(text: str, x: float, y: float, size: int, **more) -> dict:
    """A panel's title as a paper-anchored annotation centred at x on the panel's top edge y: a chart
    of several panels built from one layout dict (no make_subplots) titles its panels this way."""
    return dict(
        text=text,
        x=x,
        y=y,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font=dict(size=size),
        **more,
    )
