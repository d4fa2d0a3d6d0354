"""Every Plotly figure of the product, built here so pages stay thin and figures can be tested."""
