"""The book's one figure style: theme, category colours and the plots every chapter reuses.

Every helper returns the ``Axes`` (or ``Figure``) it drew on and always sets a title and axis labels with units, so
figures read on their own; :func:`check_figure` enforces that. Call :func:`use_style` once per notebook.
Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from omicsnb.validation import OmicsInputError, check_float, check_int


def _book_palette() -> list[str]:
    """27 distinguishable colours: tab10, then Dark2 (without its grey), then tab20's light tints."""
    tab10 = [to_hex(c) for c in mpl.colormaps["tab10"].colors]
    dark2 = [to_hex(c) for c in mpl.colormaps["Dark2"].colors if to_hex(c) != "#666666"]
    tab20_light = [to_hex(c) for c in mpl.colormaps["tab20"].colors[1::2]]
    return tab10 + dark2 + tab20_light


BOOK_PALETTE: list[str] = _book_palette()

# The book's method colours and markers: a method keeps its colour (and, in label curves, its marker) in every figure
# of every chapter, also when a label adds a mode or a data set to its name ("VIME (frozen)", "BYOL on source").
# Other labels take the remaining colours.
METHOD_COLORS: dict[str, str] = {
    "VIME": BOOK_PALETTE[0],  # blue
    "SCARF": BOOK_PALETTE[1],  # orange
    "BYOL": BOOK_PALETTE[2],  # green
    "logistic regression": BOOK_PALETTE[4],  # purple
    "oracle (true activities)": BOOK_PALETTE[5],  # brown
    "baseline": BOOK_PALETTE[7],  # grey
}

METHOD_MARKERS: dict[str, str] = {"VIME": "o", "SCARF": "s", "BYOL": "^", "logistic regression": "D",
                                  "oracle (true activities)": "*", "baseline": "X"}


def method_of(label) -> str | None:
    """The method a figure label names (``"VIME (frozen)"`` -> ``"VIME"``), or None. Introduced in chapter 5."""
    if not isinstance(label, str):
        return None
    for method in sorted(METHOD_COLORS, key=len, reverse=True):
        if label == method or label.startswith(method + " "):
            return method
    return None

LABEL_CURVE_XLABEL = "number of labelled training samples"
COLUMN_PX = 784  # width of the book's text column in CSS pixels (1400 px browser window)
MAX_FIGURE_WIDTH_IN = 10.0  # widest figure that keeps 9 pt tick labels >= 9 CSS px in the column at the book's dpi
MAX_PANELS_PER_ROW = 3
LINE_STYLES = ("-", "--", ":", "-.")
ACCURACY_LABEL = "accuracy (fraction of test samples)"


def use_style() -> None:
    """Apply the book's figure style: seaborn "ticks" theme, white background, no top/right spines, dpi 110.

    The white face colour keeps figures legible for readers using a dark notebook theme. Introduced in chapter 1,
    *Data and exploration*.
    """
    sns.set_theme(context="notebook", style="ticks", palette=BOOK_PALETTE[:10])
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "figure.figsize": (6.4, 4.2),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "axes.titlesize": 12,
            "axes.labelsize": 10.5,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.title_fontsize": 9.5,
            "figure.titlesize": 13,
        }
    )


def category_colors(labels) -> dict:
    """Map each distinct label to a colour, deterministically.

    A label that names one of the book's methods (:data:`METHOD_COLORS`, e.g. ``"SCARF"`` or ``"SCARF (frozen)"``)
    gets that method's colour. The other labels are sorted and take the remaining colours of :data:`BOOK_PALETTE`
    in that order (more labels than colours get extra evenly spaced hues), so the same set of labels always gives
    the same colours, in every figure and every run. Pass the *full* set of labels (e.g. all cancer types in the
    cohort) and hand the result to the plotting helpers' ``palette`` argument when a figure shows only some of them.
    Introduced in chapter 1, *Data and exploration*.
    """
    values = labels.to_numpy() if isinstance(labels, (pd.Series, pd.Index)) else np.asarray(labels)
    values = values.ravel()
    if pd.isna(values).any():
        raise OmicsInputError("labels contain missing values; fill or drop them before choosing colours")
    unique = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)]  # plain Python keys
    try:
        unique = sorted(unique)
    except TypeError:  # labels of mixed types: sort by their text
        unique = sorted(unique, key=str)
    fixed = {v: METHOD_COLORS[method_of(v)] for v in unique if method_of(v) is not None}
    others = [v for v in unique if v not in fixed]
    # in a figure of methods, no other label borrows a method's colour
    colors = [c for c in BOOK_PALETTE if not fixed or c not in set(METHOD_COLORS.values())]
    if len(others) > len(colors):
        colors += [to_hex(c) for c in sns.color_palette("husl", len(others) - len(colors))]
    return {v: fixed[v] if v in fixed else colors[others.index(v)] for v in unique}


def plot_class_counts(
    labels,
    ax: Axes | None = None,
    title: str = "Samples per class",
    label_name: str = "class",
    palette: Mapping | None = None,
) -> Axes:
    """Horizontal bar chart of the number of samples per class, largest on top.

    Introduced in chapter 1, *Data and exploration*.
    """
    values = pd.Series(np.asarray(labels).ravel())
    if values.empty:
        raise OmicsInputError("labels is empty; pass one label per sample")
    counts = values.value_counts()  # descending
    palette = _resolve_palette(values, palette)
    ax = ax or plt.subplots(figsize=(6.4, max(2.5, 0.28 * len(counts) + 1)))[1]
    bars = ax.barh([str(c) for c in counts.index[::-1]], counts.to_numpy()[::-1],
                   color=[palette[c] for c in counts.index[::-1]])
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set(title=title, xlabel="number of samples", ylabel=label_name)
    ax.grid(axis="y", visible=False)
    return ax


def plot_embedding(
    emb,
    labels=None,
    ax: Axes | None = None,
    title: str = "Embedding",
    xlabel: str = "dimension 1 (arbitrary units)",
    ylabel: str = "dimension 2 (arbitrary units)",
    legend: bool = True,
    palette: Mapping | None = None,
    point_size: float = 8,
) -> Axes:
    """Scatter plot of a 2-D embedding (PCA, UMAP, an encoder's output...), coloured by ``labels``.

    Introduced in chapter 1, *Data and exploration*.
    """
    Z = np.asarray(emb, dtype=float)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise OmicsInputError(f"emb must have shape (samples, 2) but has {Z.shape}; pass two columns, e.g. emb[:, :2]")
    ax = ax or plt.subplots(figsize=(6.4, 4.8))[1]
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=point_size, alpha=0.8, linewidths=0, color=BOOK_PALETTE[0])
    else:
        y = np.asarray(labels).ravel()
        if len(y) != len(Z):
            raise OmicsInputError(f"labels has {len(y)} entries but emb has {len(Z)} rows; pass one label per point")
        palette = _resolve_palette(y, palette)
        for label in palette:
            mask = y == label
            if mask.any():
                ax.scatter(Z[mask, 0], Z[mask, 1], s=point_size, alpha=0.8, linewidths=0, color=palette[label],
                           label=str(label))
        if legend:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, markerscale=2,
                      ncol=1 if len(np.unique(y)) <= 16 else 2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_explained_variance(
    curves: Mapping[str, pd.DataFrame],
    ax: Axes | None = None,
    title: str = "Variance explained by the leading principal components",
    cumulative: bool = True,
) -> Axes:
    """One line per dataset of (cumulative) explained variance against principal-component rank.

    ``curves`` maps a name to the output of :func:`omicsnb.evaluate.explained_variance_curve`. Introduced in
    chapter 1, *Data and exploration*.
    """
    if not curves:
        raise OmicsInputError("curves is empty; pass {name: explained_variance_curve(X)}")
    column = "cumulative" if cumulative else "explained_variance_ratio"
    palette = category_colors(list(curves))
    ax = ax or plt.subplots()[1]
    for name, curve in curves.items():
        if not {"component", column} <= set(curve.columns):
            raise OmicsInputError(f"curve {name!r} lacks component/{column}; pass explained_variance_curve output")
        ax.plot(curve["component"], curve[column], marker="o", markersize=3.5, label=str(name), color=palette[name])
    ylabel = f"{'cumulative ' if cumulative else ''}explained variance (fraction of total)"
    ax.set(title=title, xlabel="principal component (rank)", ylabel=ylabel, ylim=(0, None))
    ax.legend(frameon=False)
    return ax


def plot_label_curves(
    summary: pd.DataFrame,
    ax: Axes | None = None,
    title: str = "Test accuracy against the number of labels",
    ylabel: str = ACCURACY_LABEL,
    palette: Mapping | None = None,
) -> Axes:
    """Mean metric (line) +/- 1 standard deviation (band) against the number of labelled samples, one per model.

    ``summary`` is the output of :func:`omicsnb.evaluate.summarise_sweep`; pass ``ylabel`` when it summarises
    another metric. Introduced in chapter 2, *Supervised baseline*.
    """
    needed = {"model", "n_train", "mean", "sd"}
    if not isinstance(summary, pd.DataFrame) or not needed <= set(summary.columns):
        raise OmicsInputError("summary lacks model/n_train/mean/sd columns; pass the output of summarise_sweep")
    palette = _resolve_palette(summary["model"], palette)
    ax = ax or plt.subplots()[1]
    drawn: dict[str, int] = {}  # curves that share a colour (one method in two modes) get different line styles
    for model, curve in summary.groupby("model", sort=False):
        curve = curve.sort_values("n_train")
        x, mean, sd = curve["n_train"], curve["mean"], curve["sd"].fillna(0.0)
        style = LINE_STYLES[drawn.get(palette[model], 0) % len(LINE_STYLES)]
        drawn[palette[model]] = drawn.get(palette[model], 0) + 1
        marker = METHOD_MARKERS.get(method_of(model), "o")
        ax.plot(x, mean, marker=marker, markersize=4, color=palette[model], linestyle=style, label=str(model))
        ax.fill_between(x, mean - sd, mean + sd, color=palette[model], alpha=0.2, linewidth=0)
    ax.set(title=title, xlabel=LABEL_CURVE_XLABEL, ylabel=ylabel)
    ax.legend(frameon=False)
    return ax


def plot_training_history(history: pd.DataFrame, title: str = "Training history") -> Figure:
    """Two panels: train/validation loss and validation accuracy per epoch, with the kept (best) epoch marked.

    ``history`` is ``MLPClassifier.history_`` or the frame returned by :func:`omicsnb.training.train_supervised`.
    Introduced in chapter 2, *Supervised baseline*.
    """
    from omicsnb.training import best_epoch

    if not isinstance(history, pd.DataFrame) or not {"epoch", "train_loss", "val_loss", "val_accuracy"} <= set(
        history.columns
    ) or history.empty:
        raise OmicsInputError("history must be a non-empty frame with epoch/train_loss/val_loss/val_accuracy columns")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9.5, 3.6), constrained_layout=True)
    kept = best_epoch(history)
    ax_loss.plot(history["epoch"], history["train_loss"], label="training", color=BOOK_PALETTE[0])
    ax_loss.plot(history["epoch"], history["val_loss"], label="validation", color=BOOK_PALETTE[1])
    ax_acc.plot(history["epoch"], history["val_accuracy"], color=BOOK_PALETTE[1])
    for ax in (ax_loss, ax_acc):
        ax.axvline(kept, color="grey", linestyle="--", linewidth=1, label=f"kept epoch ({kept})")
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="cross-entropy loss (nats per sample)")
    ax_acc.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (fraction of validation samples)")
    ax_loss.legend(frameon=False)
    fig.suptitle(title)
    return fig


def plot_pretraining_history(histories: Mapping[str, pd.DataFrame], title: str = "Pretraining loss per epoch",
                             ylabel: str = "pretext loss (method units, per sample)") -> Figure:
    """One panel per method: training and validation pretext loss against epoch (``SSLPretrainer.history_``).

    Panels wrap into rows of at most :data:`MAX_PANELS_PER_ROW`, so the figure fits the book's column.
    The methods' losses are on different scales (VIME: BCE + alpha * MSE; SCARF: NT-Xent; BYOL: 2 - 2 cos), so each
    gets its own y axis. Introduced in chapter *How much does pretraining help?*.
    """
    if not histories or not all(isinstance(h, pd.DataFrame) and {"epoch", "loss", "val_loss"} <= set(h.columns)
                                and not h.empty for h in histories.values()):
        raise OmicsInputError("histories must map names to non-empty SSLPretrainer.history_ frames (epoch/loss/val_loss)")
    fig, axes = panel_grid(len(histories), panel_width=3.3, panel_height=3.0)
    for ax, (name, history) in zip(axes, histories.items()):
        ax.plot(history["epoch"], history["loss"], color=BOOK_PALETTE[0], label="training")
        if history["val_loss"].notna().any():
            ax.plot(history["epoch"], history["val_loss"], color=BOOK_PALETTE[1], label="validation")
        ax.set(title=str(name), xlabel="epoch", ylabel=ylabel)
    axes[0].legend(frameon=False)
    fig.suptitle(title)
    return fig


def plot_heatmap(table: pd.DataFrame, ax: Axes | None = None, *, title: str, xlabel: str, ylabel: str,
                 cbar_label: str, center: float | None = 0.0, vmax: float | None = None, fmt: str = ".3f",
                 cmap: str = "RdBu_r") -> Axes:
    """Annotated heatmap of a numeric table (rows on the y axis, columns on the x axis), e.g. a metric per grid cell.

    With ``center`` (default 0) the diverging colour map is symmetric around it, so signs read at a glance; ``vmax``
    fixes the colour range (``center +/- vmax``) so several panels share one scale. Missing cells stay blank.
    Introduced in chapter *Inside the representations* (AUPC per encoder depth x width).
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise OmicsInputError("table must be a non-empty DataFrame (rows x columns of numbers), e.g. from .pivot()")
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.notna().to_numpy().sum() < table.notna().to_numpy().sum():
        raise OmicsInputError("table holds non-numeric cells; pass numbers only (NaN for missing cells)")
    if center is not None and vmax is None:
        finite = values.to_numpy(float)[np.isfinite(values.to_numpy(float))]
        vmax = float(np.abs(finite - center).max()) if finite.size else 1.0
        vmax = vmax or 1.0
    limits = {} if vmax is None or center is None else {"vmin": center - vmax, "vmax": center + vmax}
    ax = ax or plt.subplots()[1]
    sns.heatmap(values, ax=ax, annot=True, fmt=fmt, cmap=cmap, center=center, linewidths=0.5, linecolor="white",
                cbar_kws={"label": cbar_label}, **limits)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.tick_params(axis="y", rotation=0)
    return ax


def plot_error_bars(summary: pd.DataFrame, ax: Axes | None = None, *, title: str, ylabel: str,
                    xlabel: str = "missing-data scenario", x: str = "scenario", hue: str = "method",
                    palette: Mapping | None = None) -> Axes:
    """Grouped bars of a mean with its confidence interval: one group per ``x`` value, one bar per ``hue`` value.

    ``summary`` needs ``x``, ``hue``, ``mean`` and ``ci`` (half-width; NaN draws no whisker) columns, e.g. the output
    of :func:`omicsnb.impute.experiment.summarise_errors`. Groups and bars keep their order of appearance; a bar
    missing from a group leaves a gap. Introduced in the imputation chapter (Qiu et al., VAE imputation).
    """
    needed = {x, hue, "mean", "ci"}
    if not isinstance(summary, pd.DataFrame) or not needed <= set(summary.columns) or summary.empty:
        raise OmicsInputError(f"summary must be a non-empty frame with columns {sorted(needed)}, e.g. the output "
                              "of summarise_errors")
    groups, bars = list(dict.fromkeys(summary[x])), list(dict.fromkeys(summary[hue]))
    palette = _resolve_palette(summary[hue], palette)
    width = min(MAX_FIGURE_WIDTH_IN, max(5.0, 1.1 * len(groups) * max(1, len(bars)) / 3 + 2))
    ax = ax or plt.subplots(figsize=(width, 4.0))[1]
    width = 0.8 / len(bars)
    values = summary.set_index([x, hue])
    for j, name in enumerate(bars):
        pos, mean, ci = [], [], []
        for i, group in enumerate(groups):
            if (group, name) in values.index:
                row = values.loc[(group, name)]
                pos.append(i - 0.4 + (j + 0.5) * width)
                mean.append(float(row["mean"]))
                ci.append(float(row["ci"]) if pd.notna(row["ci"]) else np.nan)  # NaN: matplotlib draws no whisker
        ax.bar(pos, mean, width=width * 0.95, yerr=ci, capsize=2, color=palette[name], label=str(name),
               error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(groups)), [str(g) for g in groups], rotation=20 if len(groups) > 4 else 0,
                  ha="right" if len(groups) > 4 else "center")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.15 * (top - bottom))  # room for the legend above the bars
    ax.legend(frameon=False, ncol=min(len(bars), 6), fontsize=8, loc="upper center")
    return ax


def panel_grid(n_panels: int, *, panel_width: float = 3.3, panel_height: float = 3.0,
               max_cols: int = MAX_PANELS_PER_ROW, **subplot_kw) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` axes that fits the book's column: at most ``max_cols`` per row, wrapped into rows.

    The width is ``panel_width`` inches per column, capped at :data:`MAX_FIGURE_WIDTH_IN`; each row is
    ``panel_height`` inches tall. Unused cells of the last row are hidden. Returns the figure and the list of the
    ``n_panels`` axes in reading order. Extra keywords go to :func:`matplotlib.pyplot.subplots` (e.g. ``sharey``).
    """
    check_int("n_panels", n_panels, low=1)
    check_int("max_cols", max_cols, low=1)
    check_float("panel_width", panel_width, low=0, low_open=True)
    check_float("panel_height", panel_height, low=0, low_open=True)
    ncols = min(n_panels, max_cols)
    nrows = -(-n_panels // ncols)
    width = min(MAX_FIGURE_WIDTH_IN, panel_width * ncols)
    subplot_kw.setdefault("constrained_layout", True)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows), squeeze=False, **subplot_kw)
    axes = list(grid.ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def legend_below(fig: Figure, axes, *, max_cols: int = 6, **legend_kw):
    """One legend for the whole figure, under its panels, instead of a legend beside the last panel.

    Collects the labelled artists of ``axes`` (an ``Axes`` or a list; a label seen twice is kept once) and lays them
    out in up to ``max_cols`` columns, so a figure with many classes keeps its width. Needs a figure made with
    ``constrained_layout`` (as :func:`panel_grid` makes them). Returns the legend.
    """
    check_int("max_cols", max_cols, low=1)
    handles: dict[str, object] = {}
    for ax in [axes] if isinstance(axes, Axes) else list(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if not handles:
        raise OmicsInputError("the axes have no labelled artists; pass label= when drawing, or legend=True to the helper")
    options = {"loc": "outside lower center", "ncol": min(max_cols, len(handles)), "frameon": False,
               "markerscale": 2, **legend_kw}
    return fig.legend(list(handles.values()), list(handles), **options)


def tick_label_css_px(fig: Figure, column_px: float = COLUMN_PX) -> float:
    """Height in CSS pixels of the figure's smallest tick label once the book shows it in a ``column_px`` column.

    The notebook saves a figure cropped to its tight bounding box at ``fig.dpi``; a page scales an image wider than
    the column down to it. A tick label of ``s`` points is thus ``s * dpi / 72 * min(1, column_px / image_px)`` CSS
    pixels. The book wants at least 9 (see ``tests/test_browser.py``).
    """
    fig.canvas.draw()
    bbox = fig.get_tightbbox(fig.canvas.get_renderer())
    image_px = (bbox.width + 0.2) * fig.dpi  # savefig's default pad_inches=0.1 on each side
    sizes = [label.get_fontsize() for ax in fig.axes if ax.get_visible()
             for label in ax.get_xticklabels() + ax.get_yticklabels() if label.get_text()]
    smallest = min(sizes) if sizes else mpl.rcParams["xtick.labelsize"]
    smallest = mpl.font_manager.FontProperties(size=smallest).get_size_in_points()
    return smallest * fig.dpi / 72.0 * min(1.0, column_px / image_px)


def check_figure(fig: Figure) -> Figure:
    """Raise :class:`~omicsnb.validation.OmicsInputError` if a visible axes lacks a title, an x label or a y label.

    Colour-bar axes are exempt. Returns ``fig`` so it can wrap a plotting call. Introduced in chapter 1,
    *Data and exploration*.
    """
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]
    if not axes:
        raise OmicsInputError("figure has no visible axes; draw something before checking it")
    for i, ax in enumerate(axes, start=1):
        missing = [
            what
            for what, text in (
                ("title", "".join(ax.get_title(loc) for loc in ("left", "center", "right"))),
                ("x label", ax.get_xlabel()),
                ("y label", ax.get_ylabel()),
            )
            if not text.strip()
        ]
        if missing:
            raise OmicsInputError(
                f"axes {i} of {len(axes)} lacks a {', '.join(missing)}; set them with ax.set(title=, xlabel=, ylabel=)"
            )
    return fig


def _resolve_palette(labels, palette: Mapping | None) -> Mapping:
    """``palette`` if it covers every label (else raise), or :func:`category_colors` of the labels."""
    if palette is None:
        return category_colors(labels)
    missing = [v for v in pd.unique(np.asarray(labels).ravel()) if v not in palette]
    if missing:
        label = str(missing[0])
        raise OmicsInputError(f"palette has no colour for {label!r}; build it with category_colors(all_labels)")
    return palette
