"""Tests for omicsnb.plotting: the shared style, category colours, the plot helpers and check_figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from omicsnb.evaluate import explained_variance_curve  # noqa: E402
from omicsnb.plotting import (  # noqa: E402
    BOOK_PALETTE,
    MAX_FIGURE_WIDTH_IN,
    category_colors,
    check_figure,
    legend_below,
    panel_grid,
    plot_class_counts,
    plot_embedding,
    plot_explained_variance,
    plot_heatmap,
    plot_label_curves,
    plot_pretraining_history,
    plot_training_history,
    tick_label_css_px,
    use_style,
)
from omicsnb.validation import OmicsInputError  # noqa: E402

LABELS = np.array(["LUAD", "BRCA", "BRCA", "COAD", "BRCA", "LUAD"])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_labelled(ax: Axes, xlabel_part: str, ylabel_part: str) -> None:
    assert ax.get_title()
    assert xlabel_part in ax.get_xlabel() and ylabel_part in ax.get_ylabel()
    check_figure(ax.figure)


def test_use_style_sets_the_book_defaults():
    with matplotlib.rc_context():
        use_style()
        rc = matplotlib.rcParams
        assert rc["figure.dpi"] == 110 and rc["figure.facecolor"] == "white" and rc["savefig.facecolor"] == "white"
        assert not rc["axes.spines.top"] and not rc["axes.spines.right"]
        assert rc["axes.titlesize"] == 12


def test_category_colors_are_deterministic_and_order_free():
    a = category_colors(LABELS)
    b = category_colors(list(reversed(LABELS)))
    assert a == b and list(a) == ["BRCA", "COAD", "LUAD"]
    assert a["BRCA"] == BOOK_PALETTE[0]


def test_category_colors_has_at_least_20_distinct_colours_and_extends_beyond_the_palette():
    assert len(set(category_colors([f"type{i:02d}" for i in range(20)]).values())) == 20
    many = category_colors(range(40))
    assert len(many) == 40 and len(set(many.values())) == 40
    mixed = category_colors([1, "a", 2.5])
    assert len(mixed) == 3
    with pytest.raises(OmicsInputError, match="missing values"):
        category_colors(["a", None])


def test_plot_class_counts():
    ax = plot_class_counts(LABELS, label_name="cancer type")
    assert_labelled(ax, "number of samples", "cancer type")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["COAD", "LUAD", "BRCA"]  # largest on top
    widths = [p.get_width() for p in ax.patches]
    assert widths == [1, 2, 3]
    with pytest.raises(OmicsInputError, match="labels is empty"):
        plot_class_counts([])


def test_plot_embedding_uses_the_given_axes_and_palette():
    fig, ax = plt.subplots()
    emb = np.random.default_rng(0).normal(size=(6, 2))
    palette = category_colors(["BRCA", "COAD", "LUAD", "SKCM"])
    out = plot_embedding(emb, LABELS, ax=ax, title="PCA", xlabel="PC1 (log2 CPM units)", ylabel="PC2 (log2 CPM units)",
                         palette=palette)
    assert out is ax
    assert_labelled(ax, "PC1", "PC2")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["BRCA", "COAD", "LUAD"]
    assert matplotlib.colors.to_hex(ax.collections[1].get_facecolor()[0]) == palette["COAD"]


def test_plot_embedding_without_labels_and_bad_input():
    ax = plot_embedding(np.zeros((3, 2)), legend=False)
    assert_labelled(ax, "dimension 1", "dimension 2")
    with pytest.raises(OmicsInputError, match=r"shape \(samples, 2\)"):
        plot_embedding(np.zeros((3, 3)), LABELS[:3])
    with pytest.raises(OmicsInputError, match="labels has 6 entries but emb has 3"):
        plot_embedding(np.zeros((3, 2)), LABELS)
    with pytest.raises(OmicsInputError, match="no colour for 'LUAD'"):
        plot_embedding(np.zeros((6, 2)), LABELS, palette={"BRCA": "red", "COAD": "blue"})


def test_plot_explained_variance():
    rng = np.random.default_rng(0)
    curves = {"raw": explained_variance_curve(rng.normal(size=(30, 10)), 5),
              "z-scored": explained_variance_curve(rng.normal(size=(30, 10)), 5)}
    ax = plot_explained_variance(curves)
    assert_labelled(ax, "principal component", "fraction of total")
    assert len(ax.get_lines()) == 2
    assert np.allclose(ax.get_lines()[0].get_ydata(), curves["raw"]["cumulative"])
    with pytest.raises(OmicsInputError, match="curves is empty"):
        plot_explained_variance({})


def test_plot_label_curves():
    summary = pd.DataFrame(
        {"model": ["MLP", "MLP", "logreg", "logreg"], "fraction": [0.1, 1.0, 0.1, 1.0], "n_train": [100, 1000] * 2,
         "mean": [0.6, 0.9, 0.7, 0.85], "sd": [0.05, np.nan, 0.02, 0.01], "n": [5, 1, 5, 5]}
    )
    ax = plot_label_curves(summary)
    assert_labelled(ax, "number of labelled training samples", "accuracy (fraction of test samples)")
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2  # one line and one band per model
    assert ax.get_lines()[0].get_xdata().tolist() == [100, 1000]
    with pytest.raises(OmicsInputError, match="summarise_sweep"):
        plot_label_curves(summary.drop(columns="sd"))


def test_plot_training_history():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "train_loss": [1.0, 0.8, 0.6, 0.5],
                            "val_loss": [1.1, 0.9, 0.95, 1.0], "val_accuracy": [0.4, 0.6, 0.6, 0.55]})
    fig = plot_training_history(history)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    check_figure(fig)
    assert "kept epoch (2)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    with pytest.raises(OmicsInputError, match="history must be"):
        plot_training_history(history.iloc[:0])


def test_plot_pretraining_history_has_one_labelled_panel_per_method():
    h = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.9]})
    fig = plot_pretraining_history({"VIME": h, "SCARF": h.assign(val_loss=np.nan)})
    check_figure(fig)
    assert [ax.get_title() for ax in fig.axes] == ["VIME", "SCARF"]
    assert len(fig.axes[0].get_lines()) == 2 and len(fig.axes[1].get_lines()) == 1  # no validation curve of NaNs
    with pytest.raises(OmicsInputError, match="histories must map names"):
        plot_pretraining_history({"VIME": h.drop(columns="val_loss")})


def test_plot_pretraining_history_wraps_four_methods_into_two_rows_that_fit_the_column():
    h = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.9]})
    fig = plot_pretraining_history({name: h for name in ("VIME", "SCARF", "BYOL", "MAE")})
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["VIME", "SCARF", "BYOL", "MAE"]
    rows = sorted({round(ax.get_position().y0, 3) for ax in visible})
    assert len(rows) == 2  # 3 panels, then 1
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH_IN


def test_panel_grid_wraps_rows_caps_the_width_and_hides_spare_cells():
    fig, axes = panel_grid(5, panel_width=4.0, panel_height=2.5)
    assert len(axes) == 5 and len(fig.axes) == 6  # 2 rows x 3 columns, the sixth hidden
    assert not fig.axes[5].get_visible() and all(ax.get_visible() for ax in axes)
    assert fig.get_size_inches() == pytest.approx((MAX_FIGURE_WIDTH_IN, 5.0))  # 3 x 4 in capped at 10, 2 x 2.5 in
    fig, axes = panel_grid(2, panel_width=3.0, panel_height=2.0, sharey=True)
    assert fig.get_size_inches() == pytest.approx((6.0, 2.0)) and len(fig.axes) == 2
    fig, axes = panel_grid(4, max_cols=2)
    assert len(fig.axes) == 4 and fig.get_figheight() == pytest.approx(6.0)
    with pytest.raises(OmicsInputError, match="n_panels=0"):
        panel_grid(0)
    with pytest.raises(OmicsInputError, match="panel_width=-1"):
        panel_grid(2, panel_width=-1)


def test_legend_below_keeps_each_label_once_in_columns():
    fig, axes = panel_grid(2)
    emb = np.random.default_rng(0).normal(size=(6, 2))
    for ax in axes:
        plot_embedding(emb, LABELS, ax=ax, legend=False)
    legend = legend_below(fig, axes, max_cols=2)
    assert [t.get_text() for t in legend.get_texts()] == ["BRCA", "COAD", "LUAD"]
    assert legend._ncols == 2 and legend in fig.legends
    with pytest.raises(OmicsInputError, match="no labelled artists"):
        legend_below(fig, plt.subplots()[1])


def test_tick_label_css_px_against_a_hand_computation():
    with matplotlib.rc_context():
        use_style()  # 9 pt ticks, 110 dpi
        narrow, ax = plt.subplots(figsize=(5, 3))
        ax.plot([0, 1], [0, 1])
        # narrower than the column: drawn at its own size, 9 pt * 110 / 72 = 13.75 CSS px
        assert tick_label_css_px(narrow) == pytest.approx(9 * 110 / 72)
        wide, ax = plt.subplots(figsize=(16, 3))
        ax.plot([0, 1], [0, 1])
        ax.set(xlabel="x", ylabel="y")
        wide.canvas.draw()
        bbox = wide.get_tightbbox(wide.canvas.get_renderer())
        expected = 9 * 110 / 72 * 784 / ((bbox.width + 0.2) * 110)  # scaled down into the column
        assert tick_label_css_px(wide) == pytest.approx(expected)
        assert tick_label_css_px(wide) < 9 < tick_label_css_px(narrow)


@pytest.mark.parametrize("draw", ["class_counts", "embedding", "label_curves", "training", "pretraining", "bars"])
def test_default_figures_are_legible_in_the_column(draw):
    """Every helper's own figure keeps its tick labels >= 9 CSS px in the 784 px column."""
    with matplotlib.rc_context():
        use_style()
        rng = np.random.default_rng(0)
        h = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.9]})
        labels = np.array([f"type {i:02d}" for i in range(20)] * 3)
        if draw == "class_counts":
            fig = plot_class_counts(labels).figure
        elif draw == "embedding":
            fig = plot_embedding(rng.normal(size=(60, 2)), labels).figure
        elif draw == "label_curves":
            fig = plot_label_curves(pd.DataFrame({"model": ["MLP"] * 2, "n_train": [10, 100], "mean": [0.5, 0.8],
                                                  "sd": [0.1, 0.1]})).figure
        elif draw == "training":
            fig = plot_training_history(pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5],
                                                      "val_loss": [1.1, 0.9], "val_accuracy": [0.5, 0.6]}))
        elif draw == "pretraining":
            fig = plot_pretraining_history({f"method {i}": h for i in range(6)})
        else:
            from omicsnb.plotting import plot_error_bars

            summary = pd.DataFrame([{"scenario": f"scenario {g}", "method": f"method {b}", "mean": 1.0, "ci": 0.1}
                                    for g in range(8) for b in range(6)])
            fig = plot_error_bars(summary, title="t", ylabel="y").figure
        assert tick_label_css_px(fig) >= 9.0


def test_check_figure_rejects_unlabelled_axes():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with pytest.raises(OmicsInputError, match="axes 1 of 1 lacks a title, x label, y label"):
        check_figure(fig)
    ax.set(title="t", xlabel="x (units)")
    with pytest.raises(OmicsInputError, match="lacks a y label"):
        check_figure(fig)
    ax.set_ylabel("y (units)")
    assert check_figure(fig) is fig


def test_check_figure_exempts_colour_bars_but_checks_every_panel():
    fig, (left, right) = plt.subplots(1, 2)
    image = left.imshow(np.eye(3))
    fig.colorbar(image, ax=left)
    left.set(title="t", xlabel="gene", ylabel="sample")
    with pytest.raises(OmicsInputError, match="axes 2 of 2"):
        check_figure(fig)
    right.set_axis_off()
    assert check_figure(fig) is fig


def test_plot_heatmap_annotates_cells_and_centres_the_colour_scale():
    table = pd.DataFrame({256: [0.02, -0.01], 1024: [0.05, np.nan]}, index=pd.Index([2, 6], name="depth"))
    ax = plot_heatmap(table, title="AUPC", xlabel="width (units)", ylabel="depth (layers)", cbar_label="AUPC")
    check_figure(ax.figure)
    assert [t.get_text() for t in ax.texts] == ["0.020", "0.050", "-0.010"]  # the NaN cell stays blank
    low, high = ax.collections[0].get_clim()
    assert low == pytest.approx(-0.05) and high == pytest.approx(0.05)
    ax = plot_heatmap(table, title="t", xlabel="x", ylabel="y", cbar_label="c", vmax=0.1, fmt=".2f")
    assert ax.collections[0].get_clim() == pytest.approx((-0.1, 0.1))
    with pytest.raises(OmicsInputError, match="non-numeric"):
        plot_heatmap(table.astype(object).assign(x="a"), title="t", xlabel="x", ylabel="y", cbar_label="c")
    with pytest.raises(OmicsInputError, match="non-empty DataFrame"):
        plot_heatmap(pd.DataFrame(), title="t", xlabel="x", ylabel="y", cbar_label="c")


def test_plot_error_bars_draws_one_bar_per_method_and_scenario_with_gaps():
    from omicsnb.plotting import plot_error_bars

    summary = pd.DataFrame({"scenario": ["a", "a", "b"], "method": ["VAE", "KNN", "VAE"],
                            "mean": [0.5, 0.7, 0.6], "ci": [0.01, np.nan, 0.02]})
    ax = plot_error_bars(summary, title="Errors", ylabel="RMSE (z-score units)")
    assert_labelled(ax, "scenario", "RMSE")
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.5, 0.6, 0.7]  # the missing (b, KNN) bar is a gap, not a zero
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(OmicsInputError, match="columns"):
        plot_error_bars(summary.drop(columns="ci"), title="t", ylabel="y")


def test_method_labels_keep_the_method_colour_in_every_figure_and_others_do_not_borrow_it():
    from omicsnb.plotting import METHOD_COLORS, method_of

    a = category_colors(["baseline", "VIME (frozen)", "SCARF (frozen)", "BYOL (frozen)", "logistic regression"])
    b = category_colors(["VIME on source", "BYOL (unfrozen)", "SCARF", "another model"])
    assert a["VIME (frozen)"] == b["VIME on source"] == METHOD_COLORS["VIME"] == "#1f77b4"
    assert a["BYOL (frozen)"] == b["BYOL (unfrozen)"] == METHOD_COLORS["BYOL"]
    assert a["baseline"] == METHOD_COLORS["baseline"] and b["SCARF"] == METHOD_COLORS["SCARF"]
    assert b["another model"] not in METHOD_COLORS.values()
    assert method_of("VIMEX") is None and method_of("oracle (true activities)") == "oracle (true activities)"
    assert method_of(3) is None
    # class labels (no method among them) keep the whole palette, in sorted order
    assert list(category_colors(["b", "a"]).values()) == list(BOOK_PALETTE[:2])


def test_label_curves_of_one_method_in_two_modes_differ_by_line_style():
    import matplotlib.pyplot as plt

    rows = [{"model": m, "n_train": n, "mean": 0.5, "sd": 0.1} for m in ("VIME (frozen)", "VIME (unfrozen)")
            for n in (10, 20)]
    ax = plot_label_curves(pd.DataFrame(rows), palette=category_colors(["VIME (frozen)", "VIME (unfrozen)"]))
    lines = ax.get_lines()
    assert lines[0].get_color() == lines[1].get_color() and lines[0].get_linestyle() != lines[1].get_linestyle()
    assert lines[0].get_marker() == lines[1].get_marker() == "o"  # VIME's marker
    plt.close(ax.figure)
