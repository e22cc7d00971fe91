"""The ``omicsnb`` command: list, run and build the book, and run the benchmarks.

Examples::

    omicsnb list
    omicsnb run 02_baseline --profile quick -p repeats 2 -p fractions "[0.2, 1.0]"
    omicsnb run 01_data -p data_path my.csv -p label_column tissue      # -> _build/runs/my/book/
    omicsnb build --profile book              # skips unchanged notebooks; --force reruns them
    omicsnb build --profile quick --only 01_data 02_baseline
    omicsnb build --profile quick -p data_path my.csv --name mine      # -> _build/runs/mine/
    omicsnb status                            # which committed notebooks are stale, and why
    omicsnb example pbmc --out my_pbmc        # a real matrix (scanpy's pbmc68k_reduced) as files + a data profile
    omicsnb build --profile quick --data-profile my_pbmc/pbmc.yml      # -> the whole book on it, _build/runs/pbmc/
    omicsnb bench simulator

Ctrl-C (or SIGTERM) stops a run cleanly: one line, exit status 130, nothing half-written.

Introduced in the book's front matter, *How to run this book*.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap

from omicsnb import runner
from omicsnb.validation import OmicsInputError


def _cmd_list(args) -> int:
    specs = runner.discover_notebooks()
    for spec in specs.values():
        print(f"{spec.name}: {spec.description}")
        width = max((len(n) for n in spec.parameters), default=0)
        for p in spec.parameters.values():
            default = repr(p.default)
            print(f"    {p.name:<{width}}  {default:<24} {p.type_name:<6} {p.help}")
        print()
    print(f"profiles: {', '.join(runner.list_profiles())} (profiles/<name>.yml)")
    return 0


def _overrides(name: str, pairs) -> dict:
    spec = runner.get_notebook(name)
    return {key: runner.parse_cli_value(spec, key, raw) for key, raw in (pairs or [])}


def _cmd_run(args) -> int:
    specs = runner.discover_notebooks()
    names = list(specs) if args.all else [runner.get_notebook(n, specs).name for n in args.names]
    if not names:
        raise OmicsInputError("name a notebook to run (see `omicsnb list`) or pass --all")
    if len(names) == 1:
        overrides = {names[0]: _overrides(names[0], args.param)}
    else:  # with several notebooks, -p goes to every one that has the parameter (as in `omicsnb build`)
        overrides = runner.shared_parameters(specs, names, dict(args.param or []))
    for name in names:  # every notebook's parameters are checked before the first one runs
        runner.validate_parameters(specs[name], {**runner.load_profile(args.profile, specs)[name], **overrides[name]})
    for name in names:
        runner.run_notebook(
            name, profile=args.profile, overrides=overrides[name], out_dir=args.out, force=args.force, run_name=args.name,
        )
    return 0


def _cmd_build(args) -> int:
    params = {}
    for key, raw in args.param or []:
        params[key] = raw
    runner.build_book(
        profile=args.profile, out_root=args.out, only=args.only, force=args.force, html=not args.no_html,
        params=params, data_profile=args.data_profile, run_name=args.name, student=args.student, jobs=args.jobs,
    )
    return 0


def _cmd_status(args) -> int:
    folders = [runner.REPO_ROOT / f if not f.startswith("/") else f for f in args.folders] if args.folders else None
    report = runner.stale_notebooks(folders)
    stale = [(path, reasons) for path, reasons in report if reasons]
    for path, reasons in report:
        state = "stale: " + "; ".join(reasons) if reasons else "up to date"
        print(f"{runner._show(path)}: {state}")
    if stale:
        print(f"{len(stale)} of {len(report)} notebooks are stale or missing; rerun them (make book, make regen-nbval)")
        return 1
    print(f"all {len(report)} executed notebooks are up to date")
    return 0


def _cmd_example(args) -> int:
    from omicsnb.data.examples import write_example

    paths = write_example(args.name, args.out, overwrite=args.overwrite)
    for path in paths.values():
        print(f"wrote {path}")
    print(f"run the whole book on it: omicsnb build --profile quick --data-profile {paths['pbmc.yml']}")
    return 0


def _cmd_bench(args) -> int:
    from omicsnb import bench

    return bench.main(args.target, profile=args.profile, small=args.small, workers=args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omicsnb",
        description="Run and build the omicsnb book.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__.split("Examples::")[1].split("Introduced")[0]),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show every notebook with its parameters, defaults and descriptions").set_defaults(func=_cmd_list)

    run = sub.add_parser("run", help="run notebooks through papermill")
    run.add_argument("names", nargs="*", help="notebook names (see `omicsnb list`)")
    run.add_argument("--all", action="store_true", help="run every notebook")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="override a parameter")
    run.add_argument("--profile", default="book", help="quick | book | paper (default: book)")
    run.add_argument("--out", default=None, help="output folder (default: book/ for the book profile, else _build/profiles/P/book)")
    run.add_argument("--force", action="store_true", help="run even if the fingerprint is unchanged")
    run.add_argument("--name", default=None,
                     help="folder under _build/runs/ for a run on your own data (default: the data file's stem)")
    run.set_defaults(func=_cmd_run)

    build = sub.add_parser("build", help="run the whole book at a profile, then render the HTML")
    build.add_argument("--profile", default="book", help="quick | book | paper (default: book)")
    build.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                       help="build just these chapters (the table of contents lists only them)")
    build.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
                       help="set a parameter in every chapter that has it (e.g. -p data_path my.csv)")
    build.add_argument("--data-profile", default=None, metavar="FILE.yml",
                       help="YAML with 'name', 'parameters' (for every chapter that has them) and optional 'notebooks'")
    build.add_argument("--name", default=None, help="folder under _build/runs/ for a build on your own data")
    build.add_argument("--out", default=None, help="scratch root for non-book builds (default: _build/profiles/P)")
    build.add_argument("--force", action="store_true", help="re-run notebooks even if unchanged")
    build.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="run N notebooks at once in separate processes, each with cores // N threads (default: 1)")
    build.add_argument("--no-html", action="store_true", help="run the notebooks but skip jupyter-book")
    build.add_argument("--student", action="store_true",
                       help="render the student edition (solutions removed) in <root>/_build/student/_build/html "
                            "instead of the book")
    build.set_defaults(func=_cmd_build)

    status = sub.add_parser("status", help="list committed executed notebooks that are stale, and why (exit 1 if any)")
    status.add_argument("folders", nargs="*", help="folders of executed notebooks (default: book tests/nbval)")
    status.set_defaults(func=_cmd_status)

    example = sub.add_parser("example", help="write a real data set shipped in a pip package as files, with a data profile")
    example.add_argument("name", choices=["pbmc"], help="pbmc: scanpy's pbmc68k_reduced (700 cells, 10 bulk_labels)")
    example.add_argument("--out", default="pbmc_example", help="folder to write into (default: pbmc_example)")
    example.add_argument("--overwrite", action="store_true", help="replace the example's files if the folder has them")
    example.set_defaults(func=_cmd_example)

    bench = sub.add_parser("bench", help="measure speed and memory targets side by side")
    bench.add_argument("target", nargs="?", default="all",
                       help="simulator | notebooks | maketest | pretraining | imputation | cox | ssgsea | sefs "
                            "| interpretable-ae | sweep | streaming | all (= simulator + notebooks)")
    bench.add_argument("--profile", default="quick", help="profile for the notebooks benchmark (default: quick)")
    bench.add_argument("--small", action="store_true",
                       help="streaming: 5,000 x 2,000 instead of 50,000 x 20,000 (a quick check)")
    bench.add_argument("--workers", type=int, nargs="+", default=None, metavar="N",
                       help="sweep: local worker counts to check the projection at (default: 1 2)")
    bench.set_defaults(func=_cmd_bench)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)  # SIGTERM stops a run as cleanly as Ctrl-C
    try:
        return args.func(args)
    except (OmicsInputError, runner.OmicsRunError) as exc:
        print(f"omicsnb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        what = str(exc) if isinstance(exc, runner.RunInterrupted) else "stopped"
        print(f"interrupted: {what}", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
