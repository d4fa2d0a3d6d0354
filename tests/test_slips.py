"""The seed tutorials' slips: every figure a correction states is checked against torch (or a
least-squares fit), every slip is shown on its page in both languages, and its "see for yourself"
link opens the view that shows the figure."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LinearRegression
from streamlit.testing.v1 import AppTest

from cnn_core.concepts.slips import SLIPS, slips_for, xor_affine_fit
from cnn_core.i18n import t, use_language
from tests.apptest import APP, open_app_page

PAGES = {  # where a slip is shown -> the page that shows it
    "calc": "app_pages/shape_calculator.py",
    "train": "app_pages/train.py",
    "concept.steps": "app_pages/concepts/conv_steps.py",
    "concept.pool": "app_pages/concepts/pooling.py",
    "concept.batch": "app_pages/concepts/batch_speed.py",
    "concept.act": "app_pages/concepts/activations.py",
}


def facts(key: str) -> dict:
    return next(slip for slip in SLIPS if slip.key == key).facts()


def test_the_stated_figures_are_what_torch_computes():
    x = torch.arange(25.0).reshape(1, 1, 5, 5)
    keras = facts("same_stride2")  # Keras' 'same' at stride 2: pad, then a plain convolution
    padded = F.pad(x, (keras["before"], keras["after"], keras["before"], keras["after"]))
    assert F.conv2d(padded, torch.ones(1, 1, 3, 3), stride=2).shape[-1] == keras["out"] == keras["formula"] == 3
    assert F.max_pool2d(torch.zeros(1, 32, 26, 26), 2).shape == (1, 32, facts("pool_26")["out"], 13)
    seed004 = facts("half_pixel")
    assert F.conv2d(torch.zeros(1, 1, 28, 28), torch.zeros(10, 1, 5, 5), stride=2).shape[-1] == seed004["out"] == 12
    assert seed004["half"] == 11.5 and seed004["span"] == 23


def test_the_best_affine_fit_to_xor_is_a_coin():
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    oracle = LinearRegression().fit(inputs, [0, 1, 1, 0]).predict(inputs)
    np.testing.assert_allclose(xor_affine_fit(), oracle, atol=1e-9)
    np.testing.assert_allclose(oracle, 0.5, atol=1e-9)
    assert facts("single_fc")["values"] == "0.50, 0.50, 0.50, 0.50"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_slip_reads_in_both_languages_with_its_figures(language):
    use_language(language)
    try:
        for slip in SLIPS:
            text = t(f"slip.{slip.key}.fact", **slip.facts())
            assert "{" not in text and t(f"slip.{slip.key}.says") != f"slip.{slip.key}.says", slip.key
            assert slip.seed in {"000", "001", "002", "003", "004"} and slip.where in PAGES
    finally:
        use_language("en")


@pytest.mark.parametrize("where", sorted(PAGES))
def test_each_page_shows_its_slips_as_expanders(where, runs_root):
    at = open_app_page(PAGES[where], timeout=180)
    labels = [e.label for e in at.expander]
    for slip in slips_for(where):
        says = t("slip.says", seed=slip.seed, says=t(f"slip.{slip.key}.says"))
        assert says in labels, (says, labels)
        shown = " ".join(m.value for m in at.markdown)
        assert t(f"slip.{slip.key}.fact", **slip.facts()) in shown


@pytest.mark.parametrize("key, output", [("same_stride2", "1×3×3"), ("pool_26", "1×13×13"), ("half_pixel", "1×12×12")])
def test_a_slips_link_opens_the_calculator_on_its_figure(key, output, runs_root):
    page, params = next(slip for slip in SLIPS if slip.key == key).link()
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.metric[0].value == output
